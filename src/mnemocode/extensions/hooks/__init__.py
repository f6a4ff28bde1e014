"""Hooks with Claude Code's semantics: commands run on session events (before and
after a tool call, on a prompt, at the end of an answer…), configured in mnemo's
config or in Claude Code's own ``settings.json`` files. ``setup.open_hooks`` builds
a session's :class:`~mnemocode.extensions.hooks.service.Hooks`."""
