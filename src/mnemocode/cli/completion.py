"""Completion at the REPL prompt: ``/`` commands, ``@`` paths, ``@server:uri`` MCP
resources, model aliases."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

SKIPPED = {".git"}
MAX_ENTRIES = 200


# An MCP server's resources: ``(uri, name)`` pairs by server.
Resources = Mapping[str, Sequence[tuple[str, str]]]


class ReplCompleter(Completer):
    """``commands`` maps a name (without ``/``) to its summary; ``aliases`` gives the
    configured model aliases; ``resources`` the MCP servers' resources (each called
    at completion time: the config and the servers can change)."""

    def __init__(
        self,
        commands: Callable[[], dict[str, str]],
        aliases: Callable[[], Iterable[str]],
        cwd: Path,
        resources: Callable[[], Resources] = dict,
    ) -> None:
        self._commands, self._aliases, self.cwd = commands, aliases, cwd
        self._resources = resources

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        before = document.text_before_cursor
        if before.startswith("/") and "\n" not in before:
            if " " not in before:
                yield from self._command_completions(before[1:])
                return
            name, _, arg = before[1:].partition(" ")
            if name == "model" and " " not in arg:
                yield from (
                    Completion(alias, -len(arg))
                    for alias in sorted(self._aliases())
                    if alias.startswith(arg)
                )
                return
        word = _current_word(before)
        if word.startswith("@"):
            server, colon, _uri = word[1:].partition(":")
            resources = self._resources()
            if colon and server in resources:
                yield from self._resource_completions(word, resources[server])
                return
            if not colon and not word.startswith('@"'):
                for name in sorted(n for n in resources if n.startswith(server)):
                    yield Completion(f"@{name}:", -len(word), display_meta="MCP server")
            yield from self._path_completions(word)

    def _resource_completions(
        self, word: str, resources: Sequence[tuple[str, str]]
    ) -> Iterator[Completion]:
        server, _colon, typed = word[1:].partition(":")
        matching = [(uri, name) for uri, name in resources if uri.startswith(typed)]
        for uri, name in matching[:MAX_ENTRIES]:
            yield Completion(f"@{server}:{uri}", -len(word), display=uri, display_meta=name)

    def _command_completions(self, typed: str) -> Iterator[Completion]:
        for name, summary in sorted(self._commands().items()):
            if name.startswith(typed):
                yield Completion("/" + name, -len(typed) - 1, display_meta=summary)

    def _path_completions(self, word: str) -> Iterator[Completion]:
        quoted = word.startswith('@"')
        typed = word[2:] if quoted else word[1:]
        folder_text, _, prefix = typed.rpartition("/")
        folder_part = folder_text + "/" if "/" in typed else ""
        base = Path(os.path.expanduser(folder_part)) if folder_part else Path()
        folder = base if base.is_absolute() else self.cwd / base
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError:
            return
        shown = 0
        for entry in entries:
            if entry.name in SKIPPED or not entry.name.startswith(prefix):
                continue
            if entry.name.startswith(".") and not prefix.startswith("."):
                continue
            is_dir = entry.is_dir()
            path = folder_part + entry.name + ("/" if is_dir else "")
            needs_quotes = quoted or " " in path
            text = f'@"{path}' if needs_quotes else f"@{path}"
            if needs_quotes and not is_dir:
                text += '"'
            yield Completion(text, -len(word), display=entry.name + ("/" if is_dir else ""))
            shown += 1
            if shown >= MAX_ENTRIES:
                return


def _current_word(text: str) -> str:
    """The ``@...`` token being typed: after the last space, or an open ``@"``."""
    quote = text.rfind('@"')
    if quote != -1 and text.count('"', quote) == 1 and (quote == 0 or text[quote - 1].isspace()):
        return text[quote:]
    start = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t")) + 1
    return text[start:]
