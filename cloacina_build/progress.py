"""Progress events from long work, for whoever wants to show them.

The library says *what* it is doing; a front end decides whether and how to show it (the
command line draws one updating line on a terminal, see ``cli/progress.py``).  Long
operations take an optional ``progress`` keyword: :data:`NO_PROGRESS`, the default, does
nothing.  Events are cheap and few: a phase when a step begins, and bytes per chunk read
or written (a chunk is 64 KiB to 1 MiB), never per byte.

* :meth:`Progress.phase` — a step begins (the previous one ends): ``"reading the
  project"``, ``"building the wheel"``, ``"reading the package"``...
* :meth:`Progress.total` — the current step will stream about this many bytes;
* :meth:`Progress.advance` — this many more bytes of it are done;
* :meth:`Progress.tool` — an external tool (cargo) runs: the front end may hand it the
  terminal, so that the tool shows its own progress.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple


class Terminal(NamedTuple):
    """A terminal lent to an external tool: the file descriptor for its standard error and
    whether it may colour its output."""

    fd: int
    colour: bool


class Progress:
    """The receiver of progress events; this base class ignores them all."""

    def phase(self, name: str) -> None:
        """A step named ``name`` begins; the step before it, if any, has ended."""

    def total(self, nbytes: int) -> None:
        """The current step will stream about ``nbytes`` bytes."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes of the current step are done."""

    @contextlib.contextmanager
    def tool(self, name: str) -> Iterator[Terminal | None]:
        """An external tool runs as the step ``name``.  Yields the terminal it may write
        its own output (and progress) to, or None: capture its output (the default)."""
        self.phase(name)
        yield None


NO_PROGRESS = Progress()
