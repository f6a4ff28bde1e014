"""Task text → Focus on small real trees: what each kind of mention contributes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mnemocode.agent.codemap.focus import (
    focus_from_text,
    general_discount,
    is_test_file,
    prior_parts,
)

TREE = {
    "src/geo/__init__.py": "",
    "src/geo/shapes.py": (
        "class Polygon:\n"
        "    def signed_area(self) -> float:\n"
        "        raise ValueError('polygon has fewer than three vertices')\n"
    ),
    "src/geo/sub/__init__.py": "",
    "src/geo/sub/frames.py": "def project_frame(frame):\n    return frame\n",
    "src/geo/io/reader.py": "def load_grid(path):\n    return open(path).read()\n",
    "src/geo/io/writer.py": "def dump_grid(grid, path):\n    open(path, 'w').write(grid)\n",
    "src/geo/util/reader.py": "def read_config(path):\n    return {}\n",
    "tests/test_shapes.py": (
        "from geo.shapes import Polygon\n\ndef test_signed_area():\n    Polygon().signed_area()\n"
    ),
    "docs/usage.rst": "Polygons\n========\n\nUse Polygon to compute areas.\n",
}


def make_tree(root: Path) -> list[str]:
    for rel, text in TREE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(TREE)


def best(prior: dict[str, float]) -> str:
    return sorted(prior, key=lambda p: (-prior[p], p))[0]


def test_traceback_frames_name_files_and_functions(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    text = (
        "Crash when projecting:\n"
        "Traceback (most recent call last):\n"
        '  File "/home/someone/venv/lib/python3.11/site-packages/geo/sub/frames.py", '
        "line 2, in project_frame\n"
        "    return frame\n"
    )
    focus = focus_from_text(text, root=tmp_path, files=files)
    assert focus.files["src/geo/sub/frames.py"] > 0.5
    assert "src/geo/shapes.py" not in focus.files
    assert focus.identifiers["project_frame"] == 1.0
    assert best(focus.prior) == "src/geo/sub/frames.py"


def test_pytest_frames_count_as_files(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    text = "Output:\n\nsrc/geo/io/writer.py:2: in dump_grid\n    open(path)\nE   OSError\n"
    focus = focus_from_text(text, root=tmp_path, files=files)
    assert focus.files["src/geo/io/writer.py"] == 1.0
    assert focus.identifiers["dump_grid"] == 1.0


def test_dotted_module_paths_map_to_modules_and_packages(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    focus = focus_from_text(
        "Importing geo.sub.frames.project_frame fails, and geo.sub alone too.",
        root=tmp_path,
        files=files,
    )
    assert focus.files["src/geo/sub/frames.py"] > 0
    assert focus.files["src/geo/sub/__init__.py"] > 0
    # the longer module path weighs more than the package it sits in
    assert focus.files["src/geo/sub/frames.py"] > focus.files["src/geo/sub/__init__.py"]
    assert "project_frame" in focus.identifiers


def test_partial_path_picks_the_file_with_the_longest_common_suffix(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    focus = focus_from_text("The bug is in io/reader.py somewhere.", root=tmp_path, files=files)
    assert focus.files["src/geo/io/reader.py"] == 1.0
    assert "src/geo/util/reader.py" not in focus.files


def test_a_bare_file_name_shares_its_weight_among_the_files_it_fits(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    focus = focus_from_text("Something in reader.py is off.", root=tmp_path, files=files)
    one, other = focus.files["src/geo/io/reader.py"], focus.files["src/geo/util/reader.py"]
    assert one == other
    assert 0 < one < 1.0


def test_a_quoted_error_message_finds_the_file_that_raises_it(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    text = (
        "After upgrading, computing areas breaks:\n\n"
        "ValueError: polygon has fewer than three vertices (got 2)\n"
    )
    focus = focus_from_text(text, root=tmp_path, files=files)
    assert best(focus.prior) == "src/geo/shapes.py"
    assert "ValueError" in focus.identifiers
    # the message's literal text, the value cut off, is found in the raising file only
    assert prior_parts(text, root=tmp_path, files=files).messages == {"src/geo/shapes.py": 1.0}


def test_log_lines_with_a_level_are_messages_too(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    (tmp_path / "src/geo/io/writer.py").write_text(
        "import logging\n\ndef dump_grid(grid, path):\n"
        "    logging.warning('grid cells overlap each other here')\n",
        encoding="utf-8",
    )
    text = "I see this when saving:\n\nWARNING: grid cells overlap each other here\n"
    parts = prior_parts(text, root=tmp_path, files=files)
    assert parts.messages == {"src/geo/io/writer.py": 1.0}
    assert best(focus_from_text(text, root=tmp_path, files=files).prior) == "src/geo/io/writer.py"


def test_backticked_names_weigh_more_than_prose_words(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    focus = focus_from_text(
        "Calling `load_grid` then read_config gives wrong output for `Polygon`.",
        root=tmp_path,
        files=files,
    )
    assert focus.identifiers["load_grid"] == 1.0
    assert focus.identifiers["Polygon"] == 1.0
    assert 0 < focus.identifiers["read_config"] < 1.0


def test_names_the_tasks_own_snippet_defines_weigh_little(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    text = "Repro:\n\n```python\ndef my_helper():\n    return load_grid('x')\n```\n"
    focus = focus_from_text(text, root=tmp_path, files=files)
    assert focus.identifiers["my_helper"] < focus.identifiers["load_grid"]


def test_tests_and_documents_are_discounted() -> None:
    assert is_test_file("tests/test_shapes.py")
    assert is_test_file("pkg/shapes_test.go")
    assert not is_test_file("src/geo/shapes.py")
    assert general_discount("src/geo/shapes.py") == 1.0
    assert general_discount("tests/test_shapes.py") < 1.0
    assert general_discount("docs/usage.rst") < general_discount("tests/test_shapes.py")


def test_a_source_file_outranks_its_test_on_the_same_words(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    focus = focus_from_text("signed_area of a Polygon", root=tmp_path, files=files)
    assert focus.prior["src/geo/shapes.py"] > focus.prior["tests/test_shapes.py"]


def test_the_same_task_gives_the_same_focus_in_another_process(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    text = "`Polygon.signed_area` in geo/shapes.py raises ValueError: polygon has fewer"
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from mnemocode.agent.codemap.focus import focus_from_text\n"
        "f = focus_from_text(sys.argv[2], root=Path(sys.argv[1]), files=sys.argv[3:])\n"
        "print(json.dumps([f.files, f.identifiers, f.prior]))\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path), text, *order],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed, order in (("1", files), ("2", files[::-1]))
    }
    assert len(runs) == 1
