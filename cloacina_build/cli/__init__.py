"""The ``cloacinactl`` command: a thin click layer over the library."""

from .main import main

__all__ = ["main"]
