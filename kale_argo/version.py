"""The package version (standard library only: the compiler records it on every run)."""

__version__ = "0.1.0"
