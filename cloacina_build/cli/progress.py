"""How the command line shows the library's progress events (``cloacina_build.progress``).

* At a terminal (standard error is a tty, ``TERM`` is not ``dumb``) and without ``-q``:
  one line on standard error, redrawn in place (``\\r`` and clear-to-end-of-line), that
  appears only once the command has worked for ``CLOACINA_PROGRESS_DELAY`` seconds (1 by
  default; quick commands print nothing) and is erased when the work ends, however it
  ends (an error, Ctrl-C).  It names the step, and for a step that streams a file, the
  bytes done, the total and the percentage.  An external tool (cargo) is lent the terminal
  instead, and shows its own progress.
* With ``-v``, wherever standard error goes: a line per step once it ends, with its
  duration (and the bytes it streamed).
* Otherwise (piped, or ``-q``): nothing, and the library gets its no-op default.

Standard output is never written here: results and ``--json`` stay clean.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator

from ..progress import NO_PROGRESS, Progress, Terminal
from .options import QUIET, VERBOSE, verbosity
from .render import human_size as size
from .terminal import at_terminal, colour_on

DELAY = 1.0       # seconds of work before the line appears
TICK = 0.1        # how often the line is redrawn
CLEAR = "\r\x1b[K"


def delay() -> float:
    try:
        return max(float(os.environ.get("CLOACINA_PROGRESS_DELAY", DELAY)), 0.0)
    except ValueError:
        return DELAY


def width() -> int:
    """The terminal's columns (a fresh pseudo-terminal may say 0: then ``COLUMNS``)."""
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = int(os.environ.get("COLUMNS", "80"))
        except ValueError:
            columns = 80
    return columns if columns > 0 else 80


@contextlib.contextmanager
def command_progress() -> Iterator[Progress]:
    """The progress the running command passes to the library: shown as the module says,
    and finished (the line erased, ``-v``'s last step printed) when the block ends."""
    level = verbosity()
    line = level != QUIET and at_terminal(sys.stderr)
    if not line and level != VERBOSE:
        yield NO_PROGRESS
        return
    shown = Shown(line=line, steps=level == VERBOSE)
    shown.start()
    try:
        yield shown
    except BaseException:
        shown.stop(finished=False)
        raise
    shown.stop()


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class Shown(Progress):
    """Progress events drawn on standard error.  Events only set fields (cheap, from the
    working thread); a ticker thread redraws the line.  One lock orders every write."""

    def __init__(self, *, line: bool, steps: bool) -> None:
        import threading

        self.line, self.steps = line, steps
        self.delay = delay()
        self.lock = threading.RLock()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.began = time.monotonic()
        self.name: str | None = None
        self.since = self.began
        self.bytes_total: int | None = None
        self.done = 0
        self.drawn = ""       # what the line shows now ("" when nothing)
        self.lent = False     # an external tool has the terminal

    # -- events (the library's side)
    def phase(self, name: str) -> None:
        with self.lock:
            self._end_step()
            self.name, self.since = name, time.monotonic()
            self.bytes_total, self.done = None, 0
            self._draw()

    def total(self, nbytes: int) -> None:
        with self.lock:
            self.bytes_total = nbytes
            self._draw()

    def advance(self, nbytes: int) -> None:
        self.done += nbytes

    @contextlib.contextmanager
    def tool(self, name: str) -> Iterator[Terminal | None]:
        self.phase(name)
        if not self.line:
            yield None
            return
        with self.lock:
            self._erase()
            self.lent = True
        try:
            yield Terminal(sys.stderr.fileno(), colour_on(err=True))
        finally:
            self.lent = False

    # -- drawing (the command's side)
    def start(self) -> None:
        import threading

        if self.line:
            self.thread = threading.Thread(target=self._tick, name="cloacina-progress",
                                           daemon=True)
            self.thread.start()

    def stop(self, finished: bool = True) -> None:
        """The line erased; ``-v``: the last step, marked when the work did not finish."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
        with self.lock:
            self._end_step("" if finished else ", did not finish")
            self._erase()

    def _tick(self) -> None:
        while not self.stopped.wait(TICK):
            with self.lock:
                self._draw()

    def _text(self) -> str:
        now = time.monotonic()
        text = f"{self.name}..." if self.name else "working..."
        if self.bytes_total:
            done = min(self.done, self.bytes_total)
            text += f" {size(done)} of {size(self.bytes_total)} " \
                    f"({100 * done // self.bytes_total}%)"
        elif self.done:
            text += f" {size(self.done)}"
        text += f"  {now - self.since:.1f} s"
        return text[:max(width() - 1, 20)]

    def _draw(self) -> None:
        if not self.line or self.lent or self.stopped.is_set() or \
                time.monotonic() - self.began < self.delay:
            return
        text = self._text()
        if text != self.drawn:
            self._write(CLEAR + text)
            self.drawn = text

    def _erase(self) -> None:
        if self.drawn:
            self._write(CLEAR)
            self.drawn = ""

    def _end_step(self, note: str = "") -> None:
        """``-v``: the step that ends, with its duration, on a line of its own."""
        if not self.steps or self.name is None:
            return
        took = duration(time.monotonic() - self.since)
        streamed = f", {size(self.done)}" if self.done else ""
        self._erase()
        self._write(f"phase: {self.name} ({took}{streamed}{note})\n")
        self.name = None

    def _write(self, text: str) -> None:
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):  # standard error went away: nothing to show
            self.line = False
