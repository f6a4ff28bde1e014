#ifndef BUFFER_H
#define BUFFER_H
#include <stddef.h>

typedef struct buffer buffer_t;

struct buffer *buffer_new(size_t capacity);

#endif
