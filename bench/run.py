#!/usr/bin/env python
"""Performance benchmark for cloacina-build: ratios against baselines measured in the same run.

Usage::

    python bench/run.py            # full run (200 MiB payload, 5 runs per side)
    python bench/run.py --quick    # smaller run (48 MiB payload, 3 runs per side)
    python bench/run.py --json     # print the results as one JSON object

What is measured (see docs/performance.md for the reasoning):

1. ``cloacinactl package`` vs ``python -m build --wheel --no-isolation`` on a copy of
   examples/order-etl, both as subprocesses, median of N, alternating order.
2. ``cloacinactl inspect --json`` on a package with a 200 MiB payload vs on the tiny
   order-etl package, both as subprocesses, median of N, alternating order.
3. ``validate_package()`` in-process on the 200 MiB package vs a bare-work baseline
   (:func:`baseline_validate`), median of 3 each, alternating order.
4. Peak RSS of ``cloacinactl validate`` on the 200 MiB package, in a fresh child Python.
5. After (3) and (4), the 200 MiB package is signed in place with a key generated for the
   run; then ``verify_package()`` against a trust store holding that key vs
   ``validate_package()``, both in-process on that same signed file, median of 3 each,
   alternating order, after one untimed warm-up run of each.  Every verify report must be
   ok (the run stops otherwise).

Fixtures live in a private directory under ``bench/.work/`` (gitignored) and are removed
at the end unless ``--keep`` is given; the key pair made for (5) is kept there too.  Exit
status is 0, or 1 with ``--strict`` when a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "order-etl"
MiB = 1 << 20
CHUNK = 1 << 20
BLOCK = 512

# Targets: a ratio (figure / baseline) at most this, or an absolute bound.
TARGET_PACKAGE = 1.3
TARGET_INSPECT = 1.25
TARGET_VALIDATE = 1.5
TARGET_RSS_MIB = 100.0
TARGET_VERIFY = 1.1
TARGET_WARM_LOAD_MS = 60.0


# ----------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def cloacinactl() -> list[str]:
    """The console script installed next to this interpreter, else ``python -m``."""
    bindir = Path(sys.executable).parent
    for name in ("cloacinactl", "cloacinactl.exe"):
        if (bindir / name).is_file():
            return [str(bindir / name)]
    found = shutil.which("cloacinactl")
    if found and Path(found).resolve().parent == bindir.resolve():
        return [found]
    return [sys.executable, "-m", "cloacina_build"]


def run_checked(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        out = proc.stdout.decode("utf-8", "replace")[-3000:]
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out}")
    return proc


def time_cmd(cmd: list[str]) -> float:
    start = time.perf_counter()
    run_checked(cmd)
    return time.perf_counter() - start


def alternate(n: int, a, b, warmup: bool = True) -> tuple[list[float], list[float]]:
    """Run the callables ``a`` and ``b`` n times each, alternating which goes first.

    Each returns the seconds it took.  One untimed run of each comes first (warm caches).
    """
    if warmup:
        a()
        b()
    ta, tb = [], []
    for i in range(n):
        if i % 2 == 0:
            ta.append(a())
            tb.append(b())
        else:
            tb.append(b())
            ta.append(a())
    return ta, tb


def copy_example(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "dist", "build", "*.egg-info", ".pytest_cache"))
    return dest


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(left, 4 * MiB)
            fh.write(os.urandom(n))
            left -= n


def peak_rss_kib(cmd: list[str]) -> int:
    """Peak RSS (KiB) of ``cmd`` and its descendants, measured by a fresh child Python."""
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,"
             " stderr=subprocess.DEVNULL)\n"
             "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
             "if sys.platform == 'darwin':\n"
             "    rss //= 1024\n"
             "print(p.returncode, rss)\n")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True,
                         check=True).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"command failed ({out[0]}): {' '.join(cmd)}")
    return int(out[1])


# ---------------------------------------------------------------- validate baseline


def _read_exact(reader, n: int, whole) -> bytes:
    parts, got = [], 0
    while got < n:
        data = reader.read(n - got)
        if not data:
            raise ValueError("truncated stream")
        parts.append(data)
        got += len(data)
    out = parts[0] if len(parts) == 1 else b"".join(parts)
    whole.update(out)
    return out


def baseline_validate(path: Path, tmpdir: Path) -> dict:
    """The bare work any validator must do, with nothing else.

    Stream the file through zstd (across frames) and sha256 the whole decompressed stream;
    copy the payload member (the ``.whl``) to a temp file while sha256-hashing it; then open
    that wheel with zipfile and sha256 every entry's decompressed contents.
    """
    import zstandard

    whole = hashlib.sha256()
    members: dict[str, str] = {}
    wheel_path: Path | None = None
    dctx = zstandard.ZstdDecompressor(max_window_size=1 << 24)
    with open(path, "rb") as fh, dctx.stream_reader(fh, read_size=CHUNK,
                                                    read_across_frames=True) as zr:
        while True:
            header = _read_exact(zr, BLOCK, whole)
            if header == b"\0" * BLOCK:
                break
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
            size, pad = info.size, -info.size % BLOCK
            out = None
            if info.name.endswith(".whl") and wheel_path is None:
                wheel_path = tmpdir / info.name.rsplit("/", 1)[-1]
                out = open(wheel_path, "wb")
            try:
                members[info.name] = _copy_member(zr, size, whole, out)
            finally:
                if out is not None:
                    out.close()
            if pad:
                _read_exact(zr, pad, whole)
        while data := zr.read(CHUNK):  # the rest of the end-of-archive padding
            whole.update(data)
    entries = _wheel_entries(wheel_path) if wheel_path is not None else {}
    return {"stream_sha256": whole.hexdigest(), "members": members, "wheel_entries": entries}


def _copy_member(zr, size: int, whole, out) -> str:
    """Read one member's SIZE bytes (hashing them, and copying them to OUT if given)."""
    h = hashlib.sha256()
    left = size
    while left > 0:
        data = _read_exact(zr, min(left, CHUNK), whole)
        h.update(data)
        if out is not None:
            out.write(data)
        left -= len(data)
    return h.hexdigest()


def _wheel_entries(wheel_path: Path) -> dict[str, str]:
    """sha256 of every file entry's decompressed contents; the wheel is removed after."""
    entries: dict[str, str] = {}
    with zipfile.ZipFile(wheel_path) as zf:
        for zi in zf.infolist():
            if zi.is_dir():
                continue
            h = hashlib.sha256()
            with zf.open(zi) as zfh:
                while data := zfh.read(CHUNK):
                    h.update(data)
            entries[zi.filename] = h.hexdigest()
    wheel_path.unlink()
    return entries


# ------------------------------------------------------------------------- results


@dataclass
class Result:
    key: str
    title: str
    figure: float
    figure_label: str
    baseline: float | None
    baseline_label: str
    unit: str
    ratio: float | None
    target: str
    passed: bool
    samples: dict = field(default_factory=dict)


def ratio_result(key, title, figure_samples, figure_label, base_samples, base_label, target):
    fig, base = statistics.median(figure_samples), statistics.median(base_samples)
    ratio = fig / base
    return Result(key, title, fig, figure_label, base, base_label, "s", ratio,
                  f"ratio <= {target:g}", ratio <= target,
                  {"figure": figure_samples, "baseline": base_samples})


# ---------------------------------------------------------------------- benchmarks


def bench_package(work: Path, ctl: list[str], runs: int) -> tuple[Result, Path]:
    project = copy_example(work / "order-etl")
    out = work / "out"
    out.mkdir()
    tiny = out / "x.cloacina"

    def package() -> float:
        return time_cmd([*ctl, "package", str(project), "-o", str(tiny)])

    def wheel() -> float:
        for whl in out.glob("*.whl"):
            whl.unlink()
        return time_cmd([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                         "--outdir", str(out), str(project)])

    t_pkg, t_whl = alternate(runs, package, wheel)
    result = ratio_result("package", "package vs python -m build --wheel", t_pkg,
                          "cloacinactl package", t_whl, "python -m build --wheel "
                          "--no-isolation", TARGET_PACKAGE)
    return result, tiny


def make_big_package(work: Path, payload: int) -> tuple[Path, dict]:
    from cloacina_build.build.builder import build_package

    project = copy_example(work / "order-etl-big")
    blob = project / "src" / "order_etl" / "blob.bin"
    start = time.perf_counter()
    write_random(blob, payload)
    t_blob = time.perf_counter() - start
    start = time.perf_counter()
    result = build_package(project, work / "big.cloacina")
    t_build = time.perf_counter() - start
    blob.unlink()  # the wheel inside the package holds it now
    return result.path, {"payload_bytes": payload, "write_random_s": t_blob,
                         "build_package_s": t_build, "package_bytes": result.size,
                         "wheel_bytes": _payload_size(result.manifest)}


def _payload_size(manifest) -> int:
    """The wheel's size from a build result's (typed) manifest."""
    return manifest.payload.size


def bench_inspect(ctl: list[str], big: Path, tiny: Path, runs: int) -> Result:
    def on(path: Path):
        return lambda: time_cmd([*ctl, "inspect", "--json", str(path)])

    t_big, t_tiny = alternate(runs, on(big), on(tiny))
    return ratio_result("inspect", "inspect: big payload vs tiny package", t_big,
                        "inspect --json (big)", t_tiny, "inspect --json (tiny)",
                        TARGET_INSPECT)


def bench_validate(work: Path, big: Path, tiny: Path, runs: int) -> Result:
    from cloacina_build.ops.validate import validate_package

    scratch = work / "baseline-tmp"
    scratch.mkdir()
    # Warm imports (jsonschema, installer, ...) and caches on the tiny package, so the
    # timed runs compare the work on the big one, not first-call import costs.
    validate_package(tiny)
    baseline_validate(tiny, scratch)

    def library() -> float:
        start = time.perf_counter()
        report = validate_package(big)
        took = time.perf_counter() - start
        if not report.ok:
            raise SystemExit(f"validate_package found errors: {report.to_dict()}")
        return took

    def baseline() -> float:
        start = time.perf_counter()
        baseline_validate(big, scratch)
        return time.perf_counter() - start

    t_lib, t_base = alternate(runs, library, baseline, warmup=False)
    return ratio_result("validate", "validate_package vs bare stream+hash", t_lib,
                        "validate_package() in-process", t_base,
                        "baseline_validate() in-process", TARGET_VALIDATE)


def bench_rss(ctl: list[str], big: Path, tiny: Path) -> Result:
    rss_big = peak_rss_kib([*ctl, "validate", str(big)]) / 1024
    rss_tiny = peak_rss_kib([*ctl, "validate", str(tiny)]) / 1024
    return Result("rss", "peak RSS of cloacinactl validate (big)", rss_big,
                  "cloacinactl validate (big)", rss_tiny, "cloacinactl validate (tiny)",
                  "MiB", rss_big / rss_tiny, f"<= {TARGET_RSS_MIB:g} MiB",
                  rss_big <= TARGET_RSS_MIB, {"figure": [rss_big], "baseline": [rss_tiny]})


def sign_big_package(work: Path, big: Path) -> tuple[object, dict]:
    """Sign ``big`` in place with a fresh key; return the trust store and fixture info.

    The key pair is written under ``work/keys`` (the run's private directory, removed at
    the end with everything else); the trust store is that directory's ``.pub`` file.
    """
    from cloacina_build.ops.signing import sign_package
    from cloacina_build.trust.keys import generate, load_signing_key
    from cloacina_build.trust.store import load_trust

    private_path, _public_path, key_id = generate("bench", work / "keys")
    key = load_signing_key(str(private_path))
    start = time.perf_counter()
    signed = sign_package(big, key, comment="bench")
    took = time.perf_counter() - start
    if signed.path != big or signed.key_id != key_id:
        raise SystemExit(f"sign_package returned {signed}, expected {big} signed by {key_id}")
    store = load_trust(work / "keys")
    return store, {"sign_package_s": took, "signed_package_bytes": big.stat().st_size,
                   "key_id": key_id}


def bench_verify(big: Path, store, runs: int) -> Result:
    """verify_package vs validate_package, both on the same signed file, in-process."""
    from cloacina_build.ops.validate import validate_package, verify_package
    from cloacina_build.trust.policy import TrustPolicy

    policy = TrustPolicy(trust=store)
    trusted = sorted(k.name for k in store.keys.values())

    def verify() -> float:
        start = time.perf_counter()
        report = verify_package(big, policy)
        took = time.perf_counter() - start
        if not report.ok or report.verified_by != trusted or \
                [s.status.value for s in report.signatures] != ["verified"]:
            raise SystemExit(f"verify_package did not verify the signed package: "
                             f"{report.to_dict()}")
        return took

    def validate() -> float:
        start = time.perf_counter()
        report = validate_package(big)
        took = time.perf_counter() - start
        if not report.ok or len(report.signatures) != 1:
            raise SystemExit(f"validate_package on the signed package: {report.to_dict()}")
        return took

    # The warm-up runs import cryptography and warm the page cache for the signed file.
    t_ver, t_val = alternate(runs, verify, validate, warmup=True)
    return ratio_result("verify", "verify_package vs validate_package (signed)", t_ver,
                        "verify_package() in-process", t_val,
                        "validate_package() in-process", TARGET_VERIFY)


def bench_load(work: Path, tiny: Path, runs: int) -> Result:
    """load_package on the example package: cold (a fresh cache) and warm, in-process.

    The warm load (cache entry present: head read, entry re-hashed, trust judged, private
    import, drift check) must cost at most 60 ms; the cold load is the reference.
    """
    from cloacina_build.runtime.loader import load_package

    caches = iter(range(10_000))

    def cold() -> float:
        cache = work / f"load-cache-{next(caches)}"
        start = time.perf_counter()
        loaded = load_package(tiny, cache_dir=cache)
        took = time.perf_counter() - start
        if loaded.warm:
            raise SystemExit("a load into a fresh cache was warm")
        loaded.unload()
        return took

    warm_cache = work / "load-cache-warm"
    load_package(tiny, cache_dir=warm_cache).unload()

    def warm() -> float:
        start = time.perf_counter()
        loaded = load_package(tiny, cache_dir=warm_cache)
        took = time.perf_counter() - start
        if not loaded.warm:
            raise SystemExit("a load from a filled cache was not warm")
        loaded.unload()
        return took

    t_warm, t_cold = alternate(max(runs, 5), warm, cold)
    fig, base = statistics.median(t_warm), statistics.median(t_cold)
    return Result("load", "load_package warm vs cold (example)", fig, "warm load", base,
                  "cold load", "ms", fig / base, f"warm <= {TARGET_WARM_LOAD_MS:g} ms",
                  fig * 1000 <= TARGET_WARM_LOAD_MS, {"figure": t_warm, "baseline": t_cold})


# --------------------------------------------------------------------------- report


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    return f"{value:.3f} s" if unit == "s" else f"{value:.1f} {unit}"


def table(results: list[Result]) -> str:
    rows = [("measurement", "figure", "baseline", "ratio", "target", "result")]
    for r in results:
        rows.append((r.title, fmt(r.figure, r.unit), fmt(r.baseline, r.unit),
                     "-" if r.ratio is None else f"{r.ratio:.2f}", r.target,
                     "PASS" if r.passed else "MISS"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("cloacina-build", "zstandard", "hatchling", "build", "installer",
                 "cryptography"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def source_revision() -> str | None:
    """The checkout's commit (with ``+dirty`` when tracked files changed), if in git."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smaller run: 48 MiB payload, 3 runs per side")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--runs", type=int, help="runs per side for package/inspect (default "
                    "5, or 3 with --quick)")
    ap.add_argument("--validate-runs", type=int, default=3,
                    help="runs per side for the in-process validate and verify comparisons "
                    "(default 3)")
    ap.add_argument("--payload-mib", type=int,
                    help="size of the random payload (default 200, or 48 with --quick)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the fixtures under bench/.work/ (they are large)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    payload_mib = args.payload_mib or (48 if args.quick else 200)

    started = time.perf_counter()
    ctl = cloacinactl()
    base = HERE / ".work"
    base.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    results: list[Result] = []
    fixture: dict = {}
    try:
        log(f"work dir {work}; runs={runs}, payload={payload_mib} MiB; cloacinactl="
            f"{' '.join(ctl)}")
        log("1/6 package vs python -m build ...")
        r_pkg, tiny = bench_package(work, ctl, runs)
        results.append(r_pkg)
        log(f"building the {payload_mib} MiB package ...")
        big, fixture = make_big_package(work, payload_mib * MiB)
        log(f"  built in {fixture['build_package_s']:.1f} s "
            f"({fixture['package_bytes'] / MiB:.1f} MiB)")
        log("2/6 inspect big vs tiny ...")
        results.append(bench_inspect(ctl, big, tiny, runs))
        log("3/6 validate_package vs baseline ...")
        results.append(bench_validate(work, big, tiny, args.validate_runs))
        log("4/6 peak RSS of cloacinactl validate ...")
        results.append(bench_rss(ctl, big, tiny))
        log("signing the big package in place ...")
        store, signing = sign_big_package(work, big)
        fixture.update(signing)
        log(f"  signed in {signing['sign_package_s']:.1f} s")
        log("5/6 verify_package vs validate_package on the signed package ...")
        results.append(bench_verify(big, store, args.validate_runs))
        log("6/6 load_package warm vs cold on the example package ...")
        results.append(bench_load(work, tiny, runs))
    finally:
        if args.keep:
            log(f"fixtures kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            try:
                base.rmdir()
            except OSError:
                pass
    elapsed = time.perf_counter() - started

    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "python": platform.python_version(), "versions": versions(),
               "source": source_revision()}
    config = {"quick": args.quick, "runs": runs, "validate_runs": args.validate_runs,
              "payload_mib": payload_mib}
    if args.json:
        print(json.dumps({"config": config, "machine": machine, "fixture": fixture,
                          "results": [asdict(r) for r in results],
                          "all_passed": all(r.passed for r in results),
                          "elapsed_s": elapsed}, indent=2))
    else:
        print(f"cloacina-build benchmark: {machine['cpus']} CPUs, Python {machine['python']},"
              f" {machine['platform']}; source {machine['source'] or 'unknown'}")
        print(f"runs per side: {runs} (package, inspect), {args.validate_runs} (validate, "
              "verify); "
              f"payload {payload_mib} MiB of random bytes")
        print(f"big package: {fixture['package_bytes'] / MiB:.1f} MiB, built with "
              f"build_package in {fixture['build_package_s']:.1f} s, signed in place "
              f"with sign_package in {fixture['sign_package_s']:.1f} s")
        print()
        print(table(results))
        print()
        print("figures are medians; ratio = figure / baseline; RSS ratio is for information")
        print(f"benchmark wall time: {elapsed:.1f} s")
    missed = [r.key for r in results if not r.passed]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
