"""Custom tools: ``@tool`` functions in ``~/.mnemo/tools``, a trusted project's
``.mnemo/tools``, the ``mnemocode.tools`` entry-point group, and memocode's
``~/.mcode/tools`` files, joined to the session inside the guard."""
