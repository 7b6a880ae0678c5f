#!/usr/bin/env python
"""``cloacinactl package`` against ``python -m build --wheel --no-isolation`` at scale.

Usage::

    python bench/package_scale.py 1000 10000          # ratios at 1,000 and 10,000 tasks
    python bench/package_scale.py --runs 5 --json 1000

For each size a chain-with-fan-out project is generated (``bench/gen_workflow.py``), then
both commands run as subprocesses on the same project, alternating which goes first, after
one untimed warm-up run of each; the figure is the ratio of the medians.  Targets (issue 8):
at most 1.5 at 1,000 tasks and 5 at 10,000.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_workflow import write_project  # noqa: E402

TARGETS = {1000: 1.5, 10000: 5.0}


def _timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def measure(n: int, runs: int, work: Path) -> dict:
    project = write_project(work / f"p{n}", n)
    exe = str(Path(sys.executable).with_name("cloacinactl"))
    package = [exe, "package", str(project), "-o", str(work / "out.cloacina")]
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
             str(work / "wheel"), str(project)]
    _timed(package, work), _timed(build, work)
    ours, theirs = [], []
    for i in range(runs):
        pair = [(package, ours), (build, theirs)]
        for cmd, into in pair if i % 2 == 0 else reversed(pair):
            into.append(_timed(cmd, work))
    p, b = statistics.median(ours), statistics.median(theirs)
    return {"tasks": n, "package_s": round(p, 3), "build_s": round(b, 3),
            "ratio": round(p / b, 2), "target": TARGETS.get(n),
            "samples": {"package": ours, "build": theirs}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pkg-scale-", dir=HERE))
    try:
        results = [measure(n, args.runs, work) for n in args.sizes]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'tasks':>7}  {'package':>9}  {'build':>8}  {'ratio':>6}  target")
        for r in results:
            print(f"{r['tasks']:>7}  {r['package_s']:>8.2f}s  {r['build_s']:>7.2f}s  "
                  f"{r['ratio']:>6.2f}  {r['target'] or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
