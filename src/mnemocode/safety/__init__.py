"""Safety: policy, sandboxes, checkpoints and the guarded toolset."""
