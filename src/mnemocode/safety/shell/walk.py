"""Walk the tree-sitter-bash syntax tree of a command line in execution order.

Statements run in a ``Shell`` (the tracked cwd and functions); subshells,
pipeline stages, substitutions and background jobs get a copy, so a ``cd`` there
does not leak. Every ``$(...)``, ``<(...)`` and backtick anywhere — in arguments,
redirections, here-documents, assignments, conditions — is analysed too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mnemocode.safety.shell.arith import check_arithmetic
from mnemocode.safety.shell.commands import Commands
from mnemocode.safety.shell.misread import misread
from mnemocode.safety.shell.parse import parse, self_calls, stages, survey, text
from mnemocode.safety.shell.state import (
    NOTHING,
    Analysis,
    Effects,
    Shell,
    harmless_variable,
)
from mnemocode.safety.shell.verdict import Arg, names
from mnemocode.safety.shell.words import ShellWords, evaluate

if TYPE_CHECKING:
    from tree_sitter import Node

STATEMENTS = names(
    """
    redirected_statement variable_assignment variable_assignments command
    declaration_command unset_command test_command negated_command for_statement
    c_style_for_statement while_statement if_statement case_statement pipeline list subshell
    compound_statement function_definition
    """
)
_CONTAINERS = frozenset({"do_group", "elif_clause", "else_clause", "case_item", "ERROR"})
_CONTROL = frozenset(
    {"if_statement", "while_statement", "for_statement", "c_style_for_statement", "case_statement"}
)
_LOOPS = frozenset({"while_statement", "for_statement", "c_style_for_statement"})
_SUBSTITUTIONS = frozenset({"command_substitution", "process_substitution"})
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
MAX_DEPTH = 8
MAX_LENGTH = 100_000


class Walker:
    def __init__(self, an: Analysis) -> None:
        self.an = an
        self.commands = Commands(an, self.run_script)
        self.conditional = 0  # > 0 inside if/while/case, after && or ||, in function bodies

    def _words(self, shell: Shell) -> ShellWords:
        return ShellWords(self.an, shell, self.substitution, self.scan)

    # ---- scripts ------------------------------------------------------------------

    def run_script(self, source: str, shell: Shell, *, dialect: str = "bash") -> Effects:
        an = self.an
        if an.depth >= MAX_DEPTH:
            an.ask(source, "unknown:too-deep", "nests shells or eval too deeply to analyse")
            return NOTHING
        if len(source) > MAX_LENGTH:
            an.ask(source, "unknown:too-long", "is too long to analyse")
            return NOTHING
        data = source.encode("utf-8", "surrogateescape")
        root = parse(data).root_node
        if root.has_error:
            an.ask(source, "unknown:syntax", "could not be parsed as shell syntax")
        elif (dropped := misread(root, data)) is not None:
            what = f"is read differently by bash and by our parser ({dropped})"
            an.ask(source, "unknown:syntax", what)
        survey(root, an, source)
        check_arithmetic(root, an, source)
        an.depth += 1
        an.zsh += dialect == "zsh"
        try:
            return self.sequence(root, shell)
        finally:
            an.depth -= 1
            an.zsh -= dialect == "zsh"

    def sequence(self, node: Node, shell: Shell) -> Effects:
        effects = NOTHING
        children = node.children
        for index, child in enumerate(children):
            if not child.is_named or child.type == "comment":
                continue
            if child.type in STATEMENTS:
                background = index + 1 < len(children) and children[index + 1].type == "&"
                if background and shell.in_loop:
                    what = "starts background processes in a loop"
                    self.an.ask(text(child), "exec:background-loop", what)
                effects |= self.statement(child, shell.copy() if background else shell)
            elif child.type in _CONTAINERS:
                effects |= self.sequence(child, shell)
            elif child.type in _REDIRECTS:  # `$(> file)`: a redirection with no command
                self._finish(
                    NOTHING, *self.redirects([child], shell, text(child)), shell, text(child)
                )
            else:
                effects |= Effects(fetches=self.scan(child, shell))
        return effects

    def statement(self, node: Node, shell: Shell) -> Effects:
        kind = node.type
        if kind == "command":
            return self.command(node, shell)
        if kind == "redirected_statement":
            return self.redirected(node, shell)
        if kind == "pipeline":
            return self.pipeline(list(stages(node)), shell, text(node))
        if kind == "list":
            return self.list_(node, shell)
        if kind == "subshell":
            return self.sequence(node, shell.copy())
        if kind in ("compound_statement", "negated_command"):
            if node.children and node.children[0].type == "((":
                fetched = self.scan(node, shell)
                self.an.allow(text(node), "safe:arithmetic")
                return Effects(fetches=fetched)
            return self.sequence(node, shell)
        if kind in ("variable_assignment", "variable_assignments", "declaration_command"):
            return self.assignments(node, shell)
        if kind in ("unset_command", "test_command"):
            fetched = self.scan(node, shell)
            self.an.allow(text(node), f"safe:{kind.split('_')[0]}")
            return Effects(fetches=fetched)
        if kind == "function_definition":
            return self.function(node, shell)
        if kind in _CONTROL:
            return self.control(node, shell)
        self.an.ask(text(node), "unknown:syntax", f"uses shell syntax we do not know ({kind})")
        return Effects(fetches=self.scan(node, shell))

    # ---- pipelines and lists --------------------------------------------------------

    def pipeline(
        self, stages: list[Node], shell: Shell, label: str, upstream: Effects = NOTHING
    ) -> Effects:
        fetched, first = upstream.fetches, upstream
        for index, stage in enumerate(stages):
            effects = self.statement(stage, shell.copy())
            if fetched and effects.runs_stdin:
                self.an.deny(
                    label, "deny:pipe-to-shell", "pipes a download into a shell or interpreter"
                )
            fetched |= effects.fetches
            if index == 0 and upstream is NOTHING:
                first = effects
        return Effects(fetched, first.runs_stdin)

    def list_(self, node: Node, shell: Shell) -> Effects:
        effects, operator = NOTHING, ""
        for child in node.children:
            if not child.is_named:
                operator = child.type
            elif child.type != "comment":
                effects |= self._after(operator, child, shell)
        return effects

    def _after(self, operator: str, node: Node, shell: Shell) -> Effects:
        """Run ``node`` after ``;`` or ``&&`` (same shell) or ``||`` (maybe not at all)."""
        if operator not in ("&&", "||"):
            return self.statement(node, shell)
        self.conditional += 1
        try:
            if operator == "&&":
                return self.statement(node, shell)
            branch = shell.copy()
            effects = self.statement(node, branch)
        finally:
            self.conditional -= 1
        if branch.cwd != shell.cwd:
            shell.cwd = None
        return effects

    # ---- simple commands and redirections ------------------------------------------

    def command(self, node: Node, shell: Shell) -> Effects:
        assignments, redirects, args = [], [], []
        name: Node | None = None
        label = text(node)
        for index, child in enumerate(node.children):
            field = node.field_name_for_child(index)
            if child.type == "variable_assignment":
                assignments.append(child)
            elif field == "redirect":
                redirects.append(child)
            elif field == "name":
                name = child
            elif field == "argument" and child.is_named:
                args.append(child)
            elif child.type != "comment":
                self.an.ask(
                    label, "unknown:syntax", f"has a part we cannot parse ({text(child)!r})"
                )
                self.scan(child, shell)
        stdin_fetched, follow = self.redirects(redirects, shell, label)
        for assignment in assignments:
            self.assignment(assignment, shell, label, prefix=name is not None)
        effects = NOTHING
        if name is not None:
            words = self._words(shell)
            parts = [c for c in name.children if c.is_named]
            head = evaluate(parts[0], words) if len(parts) == 1 else Arg(None, text(name))
            argv = [head, *(evaluate(a, words) for a in args)]
            effects = self.commands.classify(argv, shell)
        return self._finish(effects, stdin_fetched, follow, shell, label)

    def redirected(self, node: Node, shell: Shell) -> Effects:
        body = node.child_by_field_name("body")
        redirects = [
            c for i, c in enumerate(node.children) if node.field_name_for_child(i) == "redirect"
        ]
        label = text(node)
        stdin_fetched, follow = self.redirects(redirects, shell, label)
        effects = self.statement(body, shell) if body is not None else NOTHING
        return self._finish(effects, stdin_fetched, follow, shell, label)

    def _finish(
        self,
        effects: Effects,
        stdin_fetched: bool,
        follow: list[tuple[str, Node]],
        shell: Shell,
        label: str,
    ) -> Effects:
        if stdin_fetched and effects.runs_stdin:
            self.an.deny(label, "deny:pipe-to-shell", "feeds a download to a shell or interpreter")
        for operator, node in follow:  # what tree-sitter hangs off a here-document
            if operator in ("|", "|&"):
                effects = self.pipeline(list(stages(node)), shell, label, effects)
            else:
                effects |= self._after(operator, node, shell)
        return effects

    def redirects(
        self, nodes: list[Node], shell: Shell, label: str
    ) -> tuple[bool, list[tuple[str, Node]]]:
        """Record writes; return (stdin comes from a download, statements to run after)."""
        fetched, follow = False, []
        for node in nodes:
            if node.type == "file_redirect":
                fetched |= self.file_redirect(node, shell, label)
            elif node.type == "herestring_redirect":
                fetched |= self.scan(node, shell)
            elif node.type == "heredoc_redirect":
                operator = ";"
                for index, child in enumerate(node.children):
                    kind = child.type
                    if kind == "heredoc_body":
                        fetched |= self.scan(child, shell)
                    elif node.field_name_for_child(index) == "redirect":
                        fetched |= self.redirects([child], shell, label)[0]
                    elif kind == "pipeline":
                        follow.append(("|", child))
                    elif kind in STATEMENTS:
                        follow.append((operator, child))
                    elif not child.is_named:
                        operator = kind if kind in ("&&", "||", "|", "|&") else operator
                    elif kind not in ("heredoc_start", "heredoc_end"):
                        self.an.ask(label, "unknown:syntax", "has a here-document we cannot parse")
            else:
                self.an.ask(
                    label, "unknown:syntax", f"has a redirection we do not know ({node.type})"
                )
                fetched |= self.scan(node, shell)
        return fetched, follow

    def file_redirect(self, node: Node, shell: Shell, label: str) -> bool:
        operator, targets, descriptor = "", [], ""
        for index, child in enumerate(node.children):
            field = node.field_name_for_child(index)
            if field == "destination":
                targets.append(child)
            elif field == "descriptor":
                descriptor = text(child)
            elif not child.is_named:
                operator = child.type
            else:
                self.an.ask(label, "unknown:syntax", "has a redirection we cannot parse")
        if len(targets) > 1:
            what = "has words after a redirection target (the parser and bash may disagree)"
            self.an.ask(label, "unknown:syntax", what)
        if not targets:
            return False
        target = targets[0]
        if target.type == "process_substitution":
            fetched = self.substitution(target, shell)
            return fetched and operator.startswith("<")
        arg = evaluate(target, self._words(shell))
        value = arg.literal
        if operator in (">&", "<&") and value is not None and (value.isdigit() or value == "-"):
            self._duplicate(operator, descriptor, value, label)
            return arg.fetched
        if operator in ("<", "<&"):
            self.an.read(arg, shell, label)
            return arg.fetched
        if operator in _WRITE_OPS:
            path = self.an.write(arg, shell, label)
            if path is None or not self.an.harmless(path):
                where = str(path) if path is not None else f"{arg.show()} (known only at run time)"
                self.an.ask(label, "write:redirect", f"writes to {where}")
        return False

    def _duplicate(self, operator: str, descriptor: str, source: str, label: str) -> None:
        """`N>&M` / `N<&M`: output sent to a descriptor other than stdout/stderr (one
        `exec` opened, or stdin when it is a socket) goes somewhere we do not know."""
        into = descriptor or ("1" if operator == ">&" else "0")
        if into != "0" and source not in ("1", "2", "-"):
            self.an.record("?")
            self.an.ask(label, "write:fd-dup", f"writes to the file descriptor {source}")

    # ---- assignments, functions, control flow ----------------------------------------

    def assignments(self, node: Node, shell: Shell) -> Effects:
        label = text(node)
        fetched = False
        if node.type == "variable_assignment":
            self.assignment(node, shell, label, prefix=False)
            return NOTHING
        words = [text(c) for c in node.children if c.type == "word"]
        if any(re.fullmatch(r"-[a-zA-Z]*[ni][a-zA-Z]*", w) for w in words):
            self.an.ask(label, "env:declare", "declares a reference or integer variable")
        if not any(c.type in ("variable_assignment", "variable_name") for c in node.children):
            what = "prints every variable, API keys included"  # `export`, `export -p`
            self.an.ask(label, "env:dump", what)
        for child in node.children:
            if child.type == "variable_assignment":
                self.assignment(child, shell, label, prefix=False)
            elif child.type != "variable_name" and child.is_named:
                # `export P\ATH=.` or `export "$X"`: bash assigns what the word expands to
                arg = evaluate(child, self._words(shell))
                fetched |= arg.fetched
                match = re.match(r"([A-Za-z_]\w*)(\[.*\])?\+?=", arg.value or "")
                name = match.group(1) if match else ""
                if arg.value is None or (match and not harmless_variable(name, None)):
                    what = f"sets {name or 'a variable named at run time'}"
                    self.an.ask(label, "env:assignment", what + ", which can change what runs")
        if node.type == "declaration_command":
            self.an.allow(label, "safe:declare")
        return Effects(fetches=fetched)

    def assignment(self, node: Node, shell: Shell, label: str, *, prefix: bool) -> None:
        target = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if target is not None and target.type == "subscript":
            self.scan(target, shell)
            target = target.child_by_field_name("name")
        name = text(target) if target is not None else ""
        arg = evaluate(value, self._words(shell)) if value is not None else Arg("", "")
        if not harmless_variable(name, arg.literal):
            what = f"sets {name or 'a variable'}, which can change what later commands run"
            self.an.ask(label, "env:assignment", what)
        elif not prefix:
            self.an.allow(label, "safe:assignment")

    def function(self, node: Node, shell: Shell) -> Effects:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        name = text(name_node) if name_node is not None else ""
        label = text(node)
        if body is None:
            self.an.ask(label, "unknown:syntax", "defines a function we cannot parse")
            return NOTHING
        calls_self, forks = self_calls(body, name)
        if calls_self and forks:
            self.an.deny(label, "deny:fork-bomb", "is a fork bomb (a function that spawns itself)")
        elif calls_self:
            self.an.ask(label, "exec:recursive-function", "defines a function that calls itself")
        # Calls resolve to the function only when it is surely defined by then.
        certain = self.conditional == 0
        if certain:
            shell.functions.add(name)
        inner = shell.copy()
        self.conditional += 1
        try:
            self.statement(body, inner)  # judged as if it runs: definitions are cheap to call
        finally:
            self.conditional -= 1
        if certain and inner.cwd != shell.cwd:
            shell.cd_functions.add(name)
        return NOTHING

    def control(self, node: Node, shell: Shell) -> Effects:
        before, was_in_loop = shell.cwd, shell.in_loop
        shell.in_loop = was_in_loop or node.type in _LOOPS
        self.conditional += 1
        try:
            effects = self.sequence(node, shell)
        finally:
            shell.in_loop = was_in_loop
            self.conditional -= 1
        if shell.cwd != before:
            shell.cwd = None  # which branch ran is known only at run time
        return effects

    # ---- substitutions ----------------------------------------------------------------

    def substitution(self, node: Node, shell: Shell) -> bool:
        return self.sequence(node, shell.copy()).fetches

    def scan(self, node: Node, shell: Shell) -> bool:
        """Analyse every substitution (and stray statement) inside ``node``."""
        fetched = False
        stack = [node]
        while stack:
            current = stack.pop()
            if current.type in _SUBSTITUTIONS:
                fetched |= self.substitution(current, shell)
            elif current.type in STATEMENTS and current is not node:
                fetched |= self.statement(current, shell.copy()).fetches
            else:
                stack.extend(reversed(current.children))
        return fetched
