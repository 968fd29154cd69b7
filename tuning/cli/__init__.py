"""The `zoo` command line: one module per verb group, on top of every layer."""

from zoo.tuning.cli.main import main

__all__ = ["main"]
