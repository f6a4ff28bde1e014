"""Build aider's RepoMap for a directory and print timing and its ranking as JSON.

Runs with the python of a throwaway venv that has aider-chat (``/tmp/aider-venv``:
``python -m venv /tmp/aider-venv && /tmp/aider-venv/bin/pip install aider-chat
bpe-openai``), never with ours; the benchmarks call it in a subprocess::

    /tmp/aider-venv/bin/python bench/aider_repomap_driver.py ROOT
        [--files-from LIST]    # newline-separated paths relative to ROOT
                               # (default: git ls-files, else every file under ROOT)
        [--tokens N]           # map token budget (default 1024)
        [--focus TEXT | --focus-file FILE]
                               # the task text: aider's own mentioned-file and
                               # mentioned-identifier extraction runs on it
        [--cache-dir DIR]      # aider's tags cache (diskcache); default ROOT/.aider.tags.cache.v4
        [--runs cold,warm]     # builds in this process, in order: cold empties the cache
                               # first, warm reuses it; each uses a new RepoMap instance
        [--no-map]             # only rank (skip rendering the map to the budget)

Output (stdout, one JSON object)::

    {"aider_version": "0.86.2", "files": 1234, "import_s": 0.7,
     "runs": [{"kind": "cold", "seconds": 6.1, "rank_seconds": 5.8,
               "map_tokens": 1010, "map_chars": 4100}, ...],
     "mentioned_fnames": [...], "mentioned_idents": 42,
     "ranked": ["path/best.py", ...]}

``ranked`` is every file aider's ``get_ranked_tags`` ordered (the last run's), then
the input files it left out, in input order; ``--focus`` text is passed the way
aider's ``Coder.get_repo_map`` does (no files in the chat). Tokens are counted with
o200k_base loaded from bpe-openai (what mnemo counts with), else chars/4. Aider
prints progress to stderr only.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_T0 = time.perf_counter()
with contextlib.redirect_stdout(sys.stderr):
    from aider import __version__ as AIDER_VERSION
    from aider.coders.base_coder import Coder
    from aider.repomap import RepoMap
IMPORT_S = time.perf_counter() - _T0


def _o200k() -> Any:
    try:
        import binascii
        import importlib.util

        import tiktoken

        spec = importlib.util.find_spec("bpe_openai")
        if spec is None or not spec.submodule_search_locations:
            return None
        base = Path(next(iter(spec.submodule_search_locations)))
        data = gzip.decompress((base / "data" / "o200k_base.tiktoken.gz").read_bytes())
        fields = data.split()
        tokens = map(binascii.a2b_base64, fields[0::2])
        ranks = dict(zip(tokens, map(int, fields[1::2]), strict=True))
        # tiktoken's o200k pattern; the same one mnemocode.llm.tokens copies
        pattern = "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        )
        return tiktoken.Encoding(
            name="o200k_base", pat_str=pattern, mergeable_ranks=ranks, special_tokens={}
        )
    except (ImportError, OSError, EOFError, ValueError):
        return None


class _Model:
    """What RepoMap asks of aider's Model: ``token_count``."""

    def __init__(self) -> None:
        self.encoding = _o200k()

    def token_count(self, text: str) -> int:
        if self.encoding is None:
            return (len(text) + 3) // 4
        return len(self.encoding.encode_ordinary(text))


class _IO:
    """What RepoMap asks of aider's InputOutput (its ``read_text`` minus images)."""

    def tool_output(self, *args: Any, **_: Any) -> None:
        print(*args, file=sys.stderr)

    tool_warning = tool_error = tool_output

    def read_text(self, filename: str, silent: bool = False) -> str | None:
        try:
            with open(filename, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeError) as err:
            if not silent:
                self.tool_error(f"{filename}: {err}")
            return None


class _Mentions:
    """Just enough of a Coder for aider's own mention extraction, with no chat files."""

    def __init__(self, root: str, rel_files: list[str]) -> None:
        self.root = root
        self.rel_files = rel_files
        self.abs_read_only_fnames: set[str] = set()

    def get_all_relative_files(self) -> list[str]:
        return self.rel_files

    get_addable_relative_files = get_all_relative_files

    def get_inchat_relative_files(self) -> list[str]:
        return []

    def get_rel_fname(self, fname: str) -> str:
        return os.path.relpath(fname, self.root)

    def extract(self, text: str) -> tuple[set[str], set[str]]:
        fnames: set[str] = Coder.get_file_mentions(self, text)  # type: ignore[arg-type]
        idents: set[str] = Coder.get_ident_mentions(self, text)  # type: ignore[arg-type]
        fnames |= Coder.get_ident_filename_matches(self, idents)  # type: ignore[arg-type]
        return fnames, idents


class _RepoMap(RepoMap):  # type: ignore[misc]
    """aider's RepoMap with the tags cache where we say, keeping the ranked tags."""

    cache_dir: Path

    def load_tags_cache(self) -> None:
        from diskcache import Cache

        self.TAGS_CACHE = Cache(str(self.cache_dir))

    def get_ranked_tags(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        self.ranked = super().get_ranked_tags(*args, **kwargs)
        self.rank_seconds = time.perf_counter() - started
        return self.ranked


def _files(root: Path, files_from: str | None) -> list[str]:
    if files_from:
        return [line for line in Path(files_from).read_text().splitlines() if line.strip()]
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
        ).stdout
        return sorted(p for p in out.decode().split("\0") if p)
    except (OSError, subprocess.CalledProcessError):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _build(
    root: Path,
    rel: list[str],
    *,
    cache: Path,
    tokens: int,
    text: str,
    render: bool,
    model: _Model,
) -> tuple[dict[str, Any], list[Any], set[str], set[str]]:
    started = time.perf_counter()
    fnames, idents = _Mentions(str(root), rel).extract(text) if text else (set(), set())
    _RepoMap.cache_dir = cache
    repo_map = _RepoMap(map_tokens=tokens, root=str(root), main_model=model, io=_IO())
    abs_files = [str(root / p) for p in rel]
    with contextlib.redirect_stdout(sys.stderr):
        if render:
            tree = repo_map.get_ranked_tags_map([], abs_files, tokens, fnames, idents) or ""
        else:
            repo_map.get_ranked_tags([], abs_files, fnames, idents)
            tree = ""
    seconds = time.perf_counter() - started
    run = {
        "seconds": seconds,
        "rank_seconds": repo_map.rank_seconds,
        "map_tokens": repo_map.main_model.token_count(tree) if tree else 0,
        "map_chars": len(tree),
    }
    return run, repo_map.ranked, fnames, idents


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--files-from")
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--focus", default="")
    parser.add_argument("--focus-file")
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--runs", default="cold")
    parser.add_argument("--no-map", action="store_true")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    text = Path(args.focus_file).read_text() if args.focus_file else args.focus
    cache = args.cache_dir or root / RepoMap.TAGS_CACHE_DIR
    rel = _files(root, args.files_from)
    model = _Model()  # loading the vocabulary is not aider's cost: outside the timing
    runs: list[dict[str, Any]] = []
    ranked: list[Any] = []
    fnames: set[str] = set()
    idents: set[str] = set()
    for kind in args.runs.split(","):
        if kind == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        elif kind != "warm":
            raise SystemExit(f"--runs: cold or warm, not {kind!r}")
        run, ranked, fnames, idents = _build(
            root,
            rel,
            cache=cache,
            tokens=args.tokens,
            text=text,
            render=not args.no_map,
            model=model,
        )
        runs.append({"kind": kind, **run})
    order = list(dict.fromkeys(tag[0] for tag in ranked))
    seen = set(order)
    order += [p for p in rel if p not in seen]
    result = {
        "aider_version": AIDER_VERSION,
        "files": len(rel),
        "import_s": IMPORT_S,
        "runs": runs,
        "mentioned_fnames": sorted(fnames),
        "mentioned_idents": len(idents),
        "ranked": order,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
