"""Front end: the typer app, the REPL, headless mode and one-shot commands.

Nothing is imported here so that ``mnemocode.cli.entry`` stays fast to start;
import the module you need (``mnemocode.cli.repl``, ``mnemocode.cli.headless``...).
"""
