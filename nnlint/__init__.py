"""nnlint: a static linter for neural-network training code (never imports or runs it)."""

__version__ = "0.1.0"
