"""The agent: loop, context, stall detection (solver tiers come in later issues)."""
