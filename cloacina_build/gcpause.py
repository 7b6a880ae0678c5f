"""Pausing the cyclic garbage collector while a large model is built.

Reading a big workflow allocates hundreds of thousands of small objects (syntax trees,
parsed JSON, the typed model) that all stay alive until the stage ends.  CPython's
generational collector re-scans the surviving objects again and again as they accumulate,
which makes an otherwise linear stage grow faster than its input (at 10,000 tasks,
discovery and the manifest parse took twice as long with the collector running).  None of
these structures form reference cycles, so reference counting frees them; the collector is
paused for the stage and restored afterwards.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable automatic collection for the block (re-entrant; restores the prior state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
