"""Measuring and training: `make eval`, the abstention fit, the reader's training."""
