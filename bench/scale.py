#!/usr/bin/env python
"""Scaling benchmark for cloacina-build: every stage at 10 to 50,000 tasks, side by side.

Usage::

    python bench/scale.py                    # N = 10, 100, 1,000, 10,000, 50,000
    python bench/scale.py --quick            # N = 10, 100, 1,000
    python bench/scale.py --sizes 10,1000,10000 --save scale.json
    python bench/scale.py --json             # one JSON object (every sample) on stdout

For each N a chain-with-fan-out workflow of N trivial tasks is generated
(``bench/gen_workflow.py``'s ``write_project``),
and package (with ``python -m build --wheel`` as its baseline), inspect, validate, verify,
run (cold), load (warm) and run (source) are each timed as a subprocess, with its peak
RSS; then ``--help``.  The report gives each stage's time, its ratio to N = 10 and the
log-log slope between 1,000 and 10,000 tasks.  docs/performance.md ("Scaling") says
exactly what each stage runs.  Children import the checkout this file lives in.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZES = (10, 100, 1000, 10_000, 50_000)
QUICK_SIZES = (10, 100, 1000)
SMALL = 1000          # up to this many tasks a figure is a median of --runs runs
STAGES = ("package", "wheel", "inspect", "validate", "verify", "run_cold", "load_warm",
          "run_source")
TITLES = {"package": "package", "wheel": "build --wheel", "inspect": "inspect",
          "validate": "validate", "verify": "verify", "run_cold": "run (cold)",
          "load_warm": "load (warm)", "run_source": "run (source)"}
# issue 8's targets: (what, how it is read from a run, the bound)
TARGETS = (
    ("package / wheel at 1,000 tasks", lambda r: r["package_wheel"].get(1000), 1.5),
    ("package / wheel at 10,000 tasks", lambda r: r["package_wheel"].get(10_000), 5.0),
    ("inspect(10,000) / inspect(10)", lambda r: r["ratios"]["inspect"].get(10_000), 2.5),
    ("validate(10,000) / validate(10)", lambda r: r["ratios"]["validate"].get(10_000), 12.0),
    ("run(1,000) / run(10), cold", lambda r: r["ratios"]["run_cold"].get(1000), 10.0),
    ("largest slope 1k→10k, every stage", lambda r: None if None in r["slopes"].values()
     else max(r["slopes"].values()), 1.15),
    ("validate peak RSS at 10,000 tasks (MiB)", lambda r: r["validate_rss_mib"].get(10_000),
     200.0),
    ("cloacinactl --help (ms)", lambda r: r["help_ms"], 120.0),
)


def log(msg: str) -> None:
    print(f"[scale] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ the workload


def project_writer() -> tuple[Callable[..., object], str]:
    """bench/gen_workflow.py's ``write_project`` (shared with the package benchmark)."""
    sys.path.insert(0, str(HERE))
    try:
        from gen_workflow import write_project  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(HERE))
    return write_project, "bench/gen_workflow.py"


# ------------------------------------------------------------------------ measuring

_PROBE = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
try:
    p = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=float(sys.argv[1]))
    code = p.returncode
    err = (p.stderr + b"\\n" + p.stdout[:4000]).decode("utf-8", "replace") if code else ""
except subprocess.TimeoutExpired:
    code, err = -1, "timed out after %s s" % sys.argv[1]
took = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if sys.platform == "darwin":
    rss //= 1024
print(json.dumps({"code": code, "seconds": took, "rss_kib": rss, "output": err}))
"""


@dataclass
class Sample:
    seconds: float
    rss_kib: int


@dataclass
class Stage:
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.error is not None or not self.samples:
            return None
        return statistics.median(s.seconds for s in self.samples)

    @property
    def rss_mib(self) -> float | None:
        if self.error is not None or not self.samples:
            return None
        return max(s.rss_kib for s in self.samples) / 1024


class Failed(Exception):
    """A measured command failed: the stage is reported with this message."""


class Bench:
    def __init__(self, work: Path, timeout: float, keep: bool = False) -> None:
        self.work = work
        self.timeout = timeout
        self.keep = keep
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
        # Measure what an installed copy runs: modules compiled to bytecode once, as pip
        # does at install time.  Under PYTHONDONTWRITEBYTECODE (set on some machines) every
        # command would compile the checkout's changed modules from source again (about
        # 30 ms of --help); the cache goes to a private directory, not the checkout.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        self.ctl = [sys.executable, "-m", "cloacina_build"]
        bindir = Path(sys.executable).parent
        if (bindir / "cloacinactl").is_file():
            self.ctl = [str(bindir / "cloacinactl")]

    def measure(self, cmd: list[str]) -> Sample:
        out = subprocess.run([sys.executable, "-c", _PROBE, str(self.timeout), *cmd],
                             capture_output=True, text=True, env=self.env)
        if out.returncode != 0:
            raise SystemExit(f"the measuring probe failed: {out.stderr.strip()}")
        record = json.loads(out.stdout)
        if record["code"] != 0:
            raise Failed(_reason(record["output"], record["code"]))
        return Sample(record["seconds"], record["rss_kib"])

    def py(self, code: str) -> list[str]:
        return [sys.executable, "-c", code]


def _reason(output: str, code: int) -> str:
    """The error line of a failed command (text or ``--json`` output), else its last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for line in lines:
        if line.startswith(("error", '"message":')):
            return line.removeprefix('"message": ').strip('"')
    return lines[-1] if lines else f"exit status {code}"


def repeat(runs: int, *pairs: tuple[Stage, Callable[[], Sample]]) -> None:
    """Each (stage, measure) ``runs`` times, alternating which goes first, after one
    untimed warm-up when ``runs > 1``; a failure ends that stage only."""
    live = [p for p in pairs if p[0].error is None]
    if runs > 1:
        for stage, fn in live:
            _attempt(stage, fn, keep=False)
    for i in range(runs):
        order = live if i % 2 == 0 else list(reversed(live))
        for stage, fn in order:
            if stage.error is None:
                _attempt(stage, fn, keep=True)


def _attempt(stage: Stage, fn: Callable[[], Sample], *, keep: bool) -> None:
    try:
        sample = fn()
    except Failed as exc:
        stage.error = str(exc)
        return
    if keep:
        stage.samples.append(sample)


def bench_size(b: Bench, n: int, write_project, runs: int, keys: Path) -> dict[str, Stage]:
    root = b.work / f"n{n}"
    project = root / "project"
    started = time.perf_counter()
    write_project(project, n)
    log(f"  generated {n} tasks in {time.perf_counter() - started:.1f} s")
    stages = {name: Stage() for name in STAGES}
    pkg, signed, wheels = root / "wf.cloacina", root / "signed.cloacina", root / "wheels"
    caches = iter(range(1_000_000))

    def wheel() -> Sample:
        shutil.rmtree(wheels, ignore_errors=True)
        return b.measure([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                          "--outdir", str(wheels), str(project)])

    log("  package vs build --wheel ...")
    repeat(runs, (stages["package"],
                  lambda: b.measure([*b.ctl, "package", str(project), "-o", str(pkg)])),
           (stages["wheel"], wheel))
    if stages["package"].error is not None:
        for name in ("inspect", "validate", "verify", "run_cold", "load_warm"):
            stages[name].error = "no package"
    else:
        log("  inspect, validate ...")
        repeat(runs, (stages["inspect"], lambda: b.measure([*b.ctl, "inspect", "--json",
                                                            str(pkg)])))
        repeat(runs, (stages["validate"], lambda: b.measure([*b.ctl, "validate", str(pkg)])))
        _verify(b, stages["verify"], pkg, signed, keys, runs)
        log("  run (cold), load (warm) ...")
        repeat(runs, (stages["run_cold"], lambda: b.measure(
            [*b.ctl, "run", str(pkg), "--json", "--cache-dir",
             str(root / f"cache-{next(caches)}")])))
        _load_warm(b, stages["load_warm"], pkg, root / "cache-warm", runs)
    log("  run (source) ...")
    repeat(runs, (stages["run_source"], lambda: b.measure(b.py(
        "import sys\nfrom cloacina_build.testing import run_workflow\n"
        f"r = run_workflow({str(project)!r}, sleep=lambda s: None)\n"
        "sys.exit(r.status != 'completed')\n"))))
    if not b.keep:
        shutil.rmtree(root, ignore_errors=True)
    return stages


def _verify(b: Bench, stage: Stage, pkg: Path, signed: Path, keys: Path, runs: int) -> None:
    shutil.copyfile(pkg, signed)
    try:
        b.measure([*b.ctl, "sign", str(signed), "--key", str(keys / "bench.key")])
    except Failed as exc:
        stage.error = f"signing failed: {exc}"
        return
    log("  verify ...")
    repeat(runs, (stage, lambda: b.measure([*b.ctl, "verify", str(signed), "--trust",
                                            str(keys)])))


def _load_warm(b: Bench, stage: Stage, pkg: Path, cache: Path, runs: int) -> None:
    code = ("import sys\nfrom cloacina_build import load_package\n"
            f"loaded = load_package({str(pkg)!r}, cache_dir={str(cache)!r})\n"
            "sys.exit(0 if loaded.warm or sys.argv[1:] == ['fill'] else 3)\n")
    try:
        b.measure([*b.py(code), "fill"])
    except Failed as exc:
        stage.error = f"filling the cache failed: {exc}"
        return
    repeat(runs, (stage, lambda: b.measure(b.py(code))))


# ------------------------------------------------------------------------ the report


def slope(t_small: float | None, t_big: float | None, n_small: int, n_big: int) -> float | None:
    if not t_small or not t_big:
        return None
    return math.log(t_big / t_small) / math.log(n_big / n_small)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def summarise(sizes: list[int], results: dict[int, dict[str, Stage]],
              help_s: float | None) -> dict:
    """Ratios to the smallest size (10 in a full run), slopes between 1k and 10k,
    package / wheel at every size, and the issue's targets (met, missed, or not measured)."""
    base_n = min(sizes)

    def seconds(n: int, name: str) -> float | None:
        return results[n][name].seconds if n in results else None

    ratios = {name: {n: _ratio(seconds(n, name), seconds(base_n, name)) for n in sizes}
              for name in STAGES}
    slopes = {name: slope(seconds(1000, name), seconds(10_000, name), 1000, 10_000)
              for name in STAGES}
    package_wheel = {n: _ratio(seconds(n, "package"), seconds(n, "wheel")) for n in sizes}
    out = {"base_n": base_n, "ratios": ratios, "slopes": slopes,
           "package_wheel": package_wheel, "help_ms": help_s * 1000 if help_s else None,
           "validate_rss_mib": {n: results[n]["validate"].rss_mib for n in sizes}}
    out["targets"] = [_target(what, read(out), bound) for what, read, bound in TARGETS]
    return out


def _target(what: str, value: float | None, bound: float) -> dict:
    return {"target": what, "value": value, "bound": bound,
            "met": None if value is None else value <= bound}


def _s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _x(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(sizes: list[int], results: dict[int, dict[str, Stage]], summary: dict,
             help_s: float | None, meta: dict) -> str:
    lines = [f"Scaling run: {meta['machine']['cpus']} CPUs, Python "
             f"{meta['machine']['python']}, source {meta['machine']['source'] or 'unknown'}, "
             f"workload from {meta['generator']}; medians of {meta['runs']} runs up to "
             f"{SMALL:,} tasks, one run above.", ""]
    head = ["tasks", *(TITLES[s] for s in STAGES), "package / wheel", "validate peak RSS"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in sizes:
        row = [f"{n:,}", *(_s(results[n][s].seconds) for s in STAGES),
               _x(summary["package_wheel"][n]),
               "—" if results[n]["validate"].rss_mib is None
               else f"{results[n]['validate'].rss_mib:.0f} MiB"]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"Ratio to {summary['base_n']} tasks, and the log-log slope between 1,000 "
              "and 10,000 tasks (1.00 is linear):", ""]
    head = ["tasks", *(TITLES[s] for s in STAGES)]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in sizes:
        lines.append("| " + " | ".join([f"{n:,}", *(_x(summary["ratios"][s][n], 1)
                                                     for s in STAGES)]) + " |")
    lines.append("| slope 1k→10k | " + " | ".join(_x(summary["slopes"][s])
                                                  for s in STAGES) + " |")
    errors = [(n, s, results[n][s].error) for n in sizes for s in STAGES
              if results[n][s].error and results[n][s].error != "no package"]
    if errors:
        lines += ["", "Stages that did not complete:", ""]
        lines += [f"- {n:,} tasks, {TITLES[s]}: {e}" for n, s, e in errors]
    floor = meta.get("python_and_click_s")
    lines += ["", f"`cloacinactl --help`: {_s(help_s)} (Python starting and importing click "
              f"alone, in the same run: {_s(floor)}).", "", "| target | value | bound | "
              "result |", "|---|---|---|---|"]
    for t in summary["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {_x(t['value'])} | ≤ {t['bound']:g} | {verdict} |")
    return "\n".join(lines)


def machine() -> dict:
    sys.path.insert(0, str(HERE))
    try:
        from run import source_revision, versions  # bench/run.py
    finally:
        sys.path.remove(str(HERE))
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "source": source_revision(),
            "versions": versions()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", help="comma-separated task counts (default "
                    f"{','.join(map(str, SIZES))})")
    ap.add_argument("--quick", action="store_true",
                    help=f"sizes {','.join(map(str, QUICK_SIZES))}")
    ap.add_argument("--runs", type=int, default=3,
                    help=f"runs per stage up to {SMALL:,} tasks (default 3; one above)")
    ap.add_argument("--timeout", type=float, default=1800.0,
                    help="seconds any one command may take (default 1800)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--save", metavar="FILE", help="also write the JSON object to FILE")
    ap.add_argument("--keep", action="store_true", help="keep bench/.work/scale-*")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    try:
        args.size_list = sorted({int(s) for s in args.sizes.split(",")}) if args.sizes else \
            list(QUICK_SIZES if args.quick else SIZES)
    except ValueError:
        ap.error("--sizes takes comma-separated integers, e.g. 10,100,1000")
    if not args.size_list or min(args.size_list) < 1:
        ap.error("--sizes must name positive task counts")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    write_project, generator = project_writer()
    (HERE / ".work").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="scale-", dir=HERE / ".work"))
    b = Bench(work, args.timeout, args.keep)
    started = time.perf_counter()
    results: dict[int, dict[str, Stage]] = {}
    help_stage, click_stage = Stage(), Stage()
    try:  # --help beside its floor: the interpreter starting and importing click alone
        repeat(5, (help_stage, lambda: b.measure([*b.ctl, "--help"])),
               (click_stage, lambda: b.measure([sys.executable, "-c", "import click"])))
        keys = work / "keys"
        b.measure([*b.ctl, "key", "generate", "bench", "--out", str(keys)])
        for n in args.size_list:
            log(f"{n:,} tasks ...")
            results[n] = bench_size(b, n, write_project, args.runs if n <= SMALL else 1,
                                    keys)
    finally:
        if args.keep:
            log(f"fixtures kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sizes = list(results)
    summary = summarise(sizes, results, help_stage.seconds)
    meta = {"machine": machine(), "generator": generator, "runs": args.runs,
            "elapsed_s": time.perf_counter() - started,
            "python_and_click_s": click_stage.seconds}
    report = json.dumps({**meta, "sizes": sizes, "help_s": help_stage.seconds,
                         "stages": {n: {s: {**asdict(st), "seconds": st.seconds,
                                            "rss_mib": st.rss_mib}
                                        for s, st in results[n].items()} for n in sizes},
                         **summary}, indent=2)
    if args.save:
        Path(args.save).write_text(report + "\n")
    if args.json:
        print(report)
    else:
        print(markdown(sizes, results, summary, help_stage.seconds, meta))
        print(f"\nbenchmark wall time: {meta['elapsed_s']:.0f} s")
    return 1 if args.strict and any(t["met"] is False for t in summary["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
