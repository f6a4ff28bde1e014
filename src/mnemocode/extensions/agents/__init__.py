"""Agent definitions (Claude Code's sub-agent markdown) and the ``task`` tool.

``spec`` reads and validates one file (``file:line`` problems), ``discovery`` finds
them (nearer wins, project ones only in a trusted folder), ``runner`` runs one as a
sub-agent through the session's guard, ``tool`` is the ``task`` tool the model
calls. Nothing here is imported at start-up.
"""
