#!/usr/bin/env python
"""The engine format's benchmarks: ratios against a baseline measured in the same run.

    python bench/engine.py            # an 80 MB vendored payload
    python bench/engine.py --quick    # 8 MB
    python bench/engine.py --json

* package: ``cloacinactl package --format engine`` against Python's ``tarfile`` ``w:bz2``
  (level 9) of the same files in a subprocess (bzip2 is the floor; target <= 1.1).
* inspect: ``cloacinactl inspect --json`` of that archive against the same command on the
  tiny archive of the bare example (it reads the first two members only; target <= 1.25).
* validate: ``cloacinactl validate`` of that archive against a bare pass over the same
  file in a subprocess: Python's ``bz2`` decompressing the first stream in 1 MiB reads and
  ``hashlib.sha256`` over what comes out (the unavoidable work; target <= 1.5).

The payload is real Python source (the standard library's modules, copied until the size
is reached) vendored under ``vendor/``, so it compresses as source does (4-5x with bzip2)
and stays inside the engine's limits (10x ratio, 100 MiB upload).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import REPO, alternate, cloacinactl, log  # noqa: E402

MiB = 1024 * 1024
EXAMPLE = REPO / "examples" / "data-pipeline"  # workflow/ and vendor/: the engine's layout
TARGET_PACKAGE = 1.1
TARGET_INSPECT = 1.25
TARGET_VALIDATE = 1.5
_BZ2_SHA256 = """
import bz2, hashlib, sys
d, h = bz2.BZ2Decompressor(), hashlib.sha256()
with open(sys.argv[1], "rb") as fh:
    while not d.eof and (chunk := fh.read(1 << 20)):
        h.update(d.decompress(chunk))
print(h.hexdigest())
"""
_TARFILE = """
import sys, tarfile
from pathlib import Path
src, out, root = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
files = sorted(p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts
               and p.suffix != ".pyc" and "dist" not in p.relative_to(src).parts)
with tarfile.open(out, "w:bz2", compresslevel=9) as tar:
    for p in files:
        tar.add(p, arcname=f"{root}/{p.relative_to(src).as_posix()}", recursive=False)
"""


def vendor_source(dest: Path, size: int) -> int:
    """Copy the standard library's ``.py`` files under ``dest/vendoredN/`` until ``size``
    bytes are there; returns the bytes copied."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = sorted(p for p in stdlib.rglob("*.py") if "test" not in p.parts
                     and "site-packages" not in p.parts)
    copied, round_ = 0, 0
    while copied < size:
        for src in sources:
            rel = src.relative_to(stdlib)
            target = dest / f"vendored{round_}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / "__init__.py").touch()
            shutil.copyfile(src, target)
            copied += src.stat().st_size
            if copied >= size:
                break
        round_ += 1
    return copied


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def bench_package(work: Path, payload: int, runs: int) -> dict:
    project = work / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "dist"))
    copied = vendor_source(project / "vendor", payload)
    root = "data-pipeline-1.0.0"
    ours = work / "ours.cloacina"
    base = work / "tarfile.cloacina"
    ctl = cloacinactl()
    ta, tb = alternate(runs,
                       lambda: timed([*ctl, "package", str(project), "--format", "engine",
                                      "-o", str(ours)]),
                       lambda: timed([sys.executable, "-c", _TARFILE, str(project), str(base),
                                      root]))
    ratio = statistics.median(ta) / statistics.median(tb)
    return {"payload_bytes": copied, "archive_bytes": ours.stat().st_size,
            "tarfile_bytes": base.stat().st_size, "package_s": ta, "tarfile_s": tb,
            "ratio": ratio, "target": TARGET_PACKAGE, "met": ratio <= TARGET_PACKAGE}


def ratio_of(key: str, ta: list[float], tb: list[float], target: float, **extra) -> dict:
    ratio = statistics.median(ta) / statistics.median(tb)
    return {**extra, f"{key}_s": ta, "baseline_s": tb, "ratio": ratio, "target": target,
            "met": ratio <= target}


def bench_inspect(work: Path, big: Path, runs: int) -> dict:
    tiny = work / "tiny.cloacina"
    ctl = cloacinactl()
    timed([*ctl, "package", str(EXAMPLE), "--format", "engine", "-o", str(tiny)])
    ta, tb = alternate(runs, lambda: timed([*ctl, "inspect", "--json", str(big)]),
                       lambda: timed([*ctl, "inspect", "--json", str(tiny)]))
    return ratio_of("inspect", ta, tb, TARGET_INSPECT, archive_bytes=big.stat().st_size,
                    tiny_bytes=tiny.stat().st_size)


def bench_validate(big: Path, runs: int) -> dict:
    ctl = cloacinactl()
    ta, tb = alternate(runs, lambda: timed([*ctl, "validate", str(big)]),
                       lambda: timed([sys.executable, "-c", _BZ2_SHA256, str(big)]))
    return ratio_of("validate", ta, tb, TARGET_VALIDATE, archive_bytes=big.stat().st_size)


def _line(title: str, r: dict, what: str, base: str) -> str:
    figure = statistics.median(r[f"{what}_s"])
    return (f"{title}: {figure:.2f} s, {base}: {statistics.median(r['baseline_s']):.2f} s, "
            f"ratio {r['ratio']:.2f} (target <= {r['target']}: "
            f"{'met' if r['met'] else 'MISSED'})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="an 8 MB payload, 3 runs a side")
    ap.add_argument("--payload-mb", type=int, help="vendored source size (default 80, 8 quick)")
    ap.add_argument("--runs", type=int, default=3, help="runs per side (default 3)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    payload = (args.payload_mb or (8 if args.quick else 80)) * MiB
    with tempfile.TemporaryDirectory(prefix="cloacina-bench-engine-") as tmp:
        log(f"package --format engine vs tarfile w:bz2, {payload // MiB} MB vendored source")
        result = {"package": bench_package(Path(tmp), payload, args.runs),
                  "example": str(EXAMPLE), "cpus": os.cpu_count()}
        big = Path(tmp) / "ours.cloacina"
        log("inspect --json: that archive vs the tiny example's")
        result["inspect"] = bench_inspect(Path(tmp), big, args.runs)
        log("validate: that archive vs bz2 + sha256 over the same file")
        result["validate"] = bench_validate(big, args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        p = result["package"]
        print(f"package --format engine: {statistics.median(p['package_s']):.2f} s, tarfile "
              f"w:bz2: {statistics.median(p['tarfile_s']):.2f} s, ratio {p['ratio']:.2f} "
              f"(target <= {p['target']}: {'met' if p['met'] else 'MISSED'}); "
              f"{p['payload_bytes'] / MiB:.0f} MB of source -> "
              f"{p['archive_bytes'] / MiB:.1f} MB ({p['tarfile_bytes'] / MiB:.1f} MB by tarfile)")
        print(_line("inspect --json (that archive)", result["inspect"], "inspect",
                    "tiny archive"))
        print(_line("validate (that archive)", result["validate"], "validate",
                    "bz2 + sha256"))
    missed = [k for k in ("package", "inspect", "validate") if not result[k]["met"]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
