#include <stdlib.h>
#include "buffer.h"

struct buffer {
    char *data;
    size_t len;
};

struct buffer *buffer_new(size_t capacity) {
    struct buffer *b = malloc(sizeof *b);
    b->data = malloc(capacity);
    b->len = 0;
    return b;
}

static void buffer_free(struct buffer *b) {
    free(b->data);
    free(b);
}
