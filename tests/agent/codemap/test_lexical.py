"""The lexical prior: identifier splitting, BM25F over path, definitions and body, the
definers of a name, and the term cache over real files."""

from __future__ import annotations

import os
from pathlib import Path

from mnemocode.agent.codemap.lexical import (
    LexicalIndex,
    TermCache,
    expand,
    path_terms,
    query_terms,
)


def write(root: Path, files: dict[str, str]) -> list[str]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


def test_identifiers_split_into_their_parts() -> None:
    assert expand("getHTTPResponse_code") == [
        "gethttpresponse_code",
        "get",
        "http",
        "response",
        "code",
    ]
    assert expand("Polygon") == ["polygon"]
    assert expand("the") == []  # a stop word
    assert expand("x") == []


def test_repeated_query_words_count_with_a_square_root() -> None:
    weights = query_terms("parser parser parser parser lexer")
    assert weights["parser"] == 2.0
    assert weights["lexer"] == 1.0


def test_path_words_leave_out_the_extension() -> None:
    assert dict(path_terms("src/json_tools/pretty_print.py")) == {
        "src": 1,
        "json_tools": 1,
        "json": 1,
        "tools": 1,
        "pretty_print": 1,
        "pretty": 1,
        "print": 1,
    }


def test_a_word_in_the_path_outweighs_the_same_word_in_a_body(tmp_path: Path) -> None:
    files = write(
        tmp_path,
        {
            "app/tokenizer.py": "def split(text):\n    return text.split()\n",
            "app/other.py": "# the tokenizer lives elsewhere\ndef run():\n    pass\n",
            "app/unrelated.py": "def nothing():\n    pass\n",
        },
    )
    scores = LexicalIndex.build(tmp_path, files, cache=TermCache()).scores("tokenizer broken")
    assert scores["app/tokenizer.py"] > scores["app/other.py"] > 0
    assert "app/unrelated.py" not in scores


def test_a_defined_name_outweighs_a_mere_use(tmp_path: Path) -> None:
    files = write(
        tmp_path,
        {
            "a.py": "class FrameBuffer:\n    pass\n",
            "b.py": "from a import FrameBuffer\nbuf = FrameBuffer()\n",
        },
    )
    scores = LexicalIndex.build(tmp_path, files, cache=TermCache()).scores("FrameBuffer")
    assert scores["a.py"] > scores["b.py"] > 0


def test_prose_words_meet_the_parts_of_code_names(tmp_path: Path) -> None:
    files = write(
        tmp_path,
        {
            "net.py": "def parse_response_header(raw):\n    return raw\n",
            "disk.py": "def write_block(raw):\n    return raw\n",
        },
    )
    scores = LexicalIndex.build(tmp_path, files, cache=TermCache()).scores(
        "the response header is parsed wrong"
    )
    assert list(scores) == ["net.py"]


def test_definers_are_exact_names_in_many_languages(tmp_path: Path) -> None:
    files = write(
        tmp_path,
        {
            "one.py": "class Store:\n    def flush(self):\n        pass\n",
            "two.go": "package x\n\nfunc flush() {}\n\ntype Store struct{}\n",
            "three.rs": "pub fn flush() {}\n",
            "four.js": "export function Flush() {}\n",
        },
    )
    index = LexicalIndex.build(tmp_path, files, cache=TermCache())
    assert index.defining("flush") == ["one.py", "three.rs", "two.go"]
    assert index.defining("Store") == ["one.py", "two.go"]
    assert index.defining("Flush") == ["four.js"]
    assert index.defining("missing") == ()


def test_the_cache_rereads_only_changed_files(tmp_path: Path) -> None:
    files = write(tmp_path, {"a.py": "def alpha():\n    pass\n", "b.py": "def beta():\n    pass\n"})
    cache = TermCache()
    LexicalIndex.build(tmp_path, files, cache=cache)
    assert len(cache) == 2
    LexicalIndex.build(tmp_path, files, cache=cache)
    assert len(cache) == 2  # nothing changed: nothing new
    (tmp_path / "a.py").write_text("def gamma_changed():\n    pass\n", encoding="utf-8")
    stat = (tmp_path / "a.py").stat()
    os.utime(tmp_path / "a.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    index = LexicalIndex.build(tmp_path, files, cache=cache)
    assert len(cache) == 3  # one new entry, for the changed file
    assert index.defining("gamma_changed") == ["a.py"]
    assert index.defining("alpha") == ()


def test_unreadable_and_large_files_are_indexed_by_path(tmp_path: Path) -> None:
    files = write(tmp_path, {"big/huge_table.py": "def inner_name():\n    pass\n" * 10})
    index = LexicalIndex.build(tmp_path, [*files, "gone/missing_file.py"], max_file_bytes=10)
    assert index.defining("inner_name") == ()
    assert set(index.scores("huge table missing file")) == {
        "big/huge_table.py",
        "gone/missing_file.py",
    }


def test_the_cache_drops_the_least_recently_used(tmp_path: Path) -> None:
    files = write(tmp_path, {f"m{i}.py": f"def f{i}():\n    pass\n" for i in range(3)})
    cache = TermCache(max_entries=2)
    LexicalIndex.build(tmp_path, files, cache=cache)
    assert len(cache) == 2
