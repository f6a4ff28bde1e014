"""What users bring from Claude Code and Codex, and mnemo's own extension points:
MCP servers (``mcp/``), and later skills, agent definitions, custom tools and hooks."""
