"""The built-in tools, in the order the model sees them."""

from __future__ import annotations

from mnemocode.tools.base import FunctionToolset, Tool
from mnemocode.tools.edit import file_edit
from mnemocode.tools.files import file_read, file_write
from mnemocode.tools.memory import memory_search
from mnemocode.tools.search import glob, grep
from mnemocode.tools.shell import shell_exec
from mnemocode.tools.web import web_fetch, web_search


def builtin_tools() -> list[Tool]:
    return [
        shell_exec,
        file_read,
        file_write,
        file_edit,
        glob,
        grep,
        web_fetch,
        web_search,
        memory_search,
    ]


def builtin_toolset() -> FunctionToolset:
    return FunctionToolset(builtin_tools())
