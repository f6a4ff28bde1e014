"""The context-first solver (issue 12): plan → gather → solve → verify → fix →
review → polish. See ``pipeline.py``."""

from mnemocode.agent.solver.outcome import SolveOutcome
from mnemocode.agent.solver.pipeline import ContextSolver

__all__ = ["ContextSolver", "SolveOutcome"]
