"""Skills: folders with a ``SKILL.md`` (the agentskills.io format, Claude Code's too).

``frontmatter`` reads the YAML head with line numbers, ``spec`` validates it,
``discovery`` finds the folders (nearer wins, project ones only in a trusted
folder), ``prompt`` lists them for the system prompt, ``activation`` loads a body
(the ``skill`` tool and ``/name args``), ``approval`` lets an active skill's
``allowed-tools`` skip a question. Nothing here is imported at start-up.
"""
