"""Tool base (``@tool``, ``FunctionToolset``) and the built-in tools."""
