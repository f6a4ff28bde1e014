"""MCP both ways: servers become toolsets behind ``GuardedToolset`` (the client side),
and ``mnemo mcp serve`` offers mnemo's own tools to any MCP client (the server side).

The ``mcp`` SDK is imported inside the functions that need it: ``mnemo --help`` and
sessions without servers never load it."""
