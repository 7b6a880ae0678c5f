"""Run one fuzz target under atheris (coverage-guided, libFuzzer underneath).

    python -m tests.fuzz.run TARGET [CORPUS_DIR] [libFuzzer flags ...]
    python -m tests.fuzz.run tar_stream fuzz-corpus/tar_stream -max_total_time=3600
    python -m tests.fuzz.run all -max_total_time=20      # every target in one process

Seeds are built from the example projects (into ``$CLOACINA_FUZZ_WORK``, default
``$TMPDIR/cloacina-fuzz-seeds``) and copied into ``CORPUS_DIR`` (default: ``corpus/TARGET``
there) on first use.  A crash (any exception but ``CloacinaError``), a time-out
(``-timeout``, default 10 s an input) or memory over ``-rss_limit_mb`` (default 1024) stops
the run and leaves the input in ``-artifact_prefix`` (default ``./``): add it to
``tests/fuzz/regressions/TARGET/`` with a name that says what it is.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris


def _import_everything() -> None:
    """Import every module of the package now, inside the instrumentation block (the
    package imports most modules lazily, which atheris would not see)."""
    import importlib
    import pkgutil

    import elftools.elf.elffile  # noqa: F401  (read lazily by format/elf.py)
    import elftools.elf.gnuversions  # noqa: F401

    import cloacina_build

    for info in pkgutil.walk_packages(cloacina_build.__path__, "cloacina_build."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


with atheris.instrument_imports(include=["cloacina_build", "elftools"]):
    _import_everything()

from . import seeds, targets  # noqa: E402

DEFAULTS = ("-timeout=10", "-rss_limit_mb=1024", "-max_len=1048576")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in (*targets.TARGETS, targets.ALL):
        sys.exit(f"usage: python -m tests.fuzz.run TARGET [CORPUS] [flags]; targets: "
                 f"{', '.join(targets.TARGETS)}, or {targets.ALL} (every one in one run)")
    name = argv[1]
    rest = argv[2:]
    work = Path(os.environ.get("CLOACINA_FUZZ_WORK")
                or Path(tempfile.gettempdir()) / "cloacina-fuzz-seeds")
    all_seeds = seeds.prepare(work)
    dirs = [a for a in rest if not a.startswith("-")]
    if not dirs:
        dirs = [str(work / "corpus" / name)]
        rest = dirs + rest
    seeds.write_corpus(targets.tagged(all_seeds) if name == targets.ALL else all_seeds[name],
                       Path(dirs[0]))
    flags = [f for f in DEFAULTS if f.split("=")[0] not in {a.split("=")[0] for a in rest}]
    target = targets.target(name)
    atheris.Setup([argv[0], *rest, *flags], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
