#!/usr/bin/env python
"""``diff`` and ``graph`` at 10 to 10,000 tasks, and ``diff`` against the payload's size.

Usage::

    python bench/views.py                 # N = 10, 100, 1,000, 10,000; payload 1 vs 200 MB
    python bench/views.py --quick         # N = 10, 100, 1,000; payload 1 vs 20 MB
    python bench/views.py --json          # one JSON object on stdout

For each N, ``bench/gen_workflow.py`` writes a workflow of N trivial tasks; it is packaged
(A), one task's body is edited and it is packaged again (B).  Timed as subprocesses, each
the median of ``--runs`` runs: ``inspect A --json`` (the baseline: reading one head),
``diff A B --json`` (two heads and the comparison), ``diff PROJECT B`` (static discovery of
the project against a head), and ``graph A`` in each format.  The report gives each
stage's time, its ratio to N = 10, the log-log slope from 1,000 to 10,000 tasks, and
diff / inspect at each N.

Payload: the same 10-task workflow is packaged with a 1 MB and with a large incompressible
data file in its wheel; ``diff`` of two such packages (one task edited) must not grow with
the payload: the report gives diff(large) / diff(small).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import Bench, Stage, log, project_writer, repeat, slope  # noqa: E402

SIZES = (10, 100, 1000, 10_000)
QUICK_SIZES = (10, 100, 1000)
MiB = 1024 * 1024
FORMATS = ("text", "dot", "mermaid")


def edit_one_body(project: Path) -> None:
    """Change the body of the first task (its fingerprint changes, nothing else)."""
    part = next(iter(sorted((project / "src").rglob("part_0000.py"))))
    text = part.read_text("utf-8")
    part.write_text(text.replace("    return context", "    context['edited'] = 1\n"
                                 "    return context", 1), "utf-8")


def package(b: Bench, project: Path, out: Path) -> None:
    b.measure([*b.ctl, "package", str(project), "-o", str(out), "--json"])


def bench_size(b: Bench, n: int, write_project, runs: int) -> dict[str, Stage]:
    root = b.work / f"n{n}"
    project = write_project(root / "project", n)
    a, bb = root / "a.cloacina", root / "b.cloacina"
    package(b, project, a)
    edit_one_body(project)
    package(b, project, bb)
    stages = {"inspect": Stage(), "diff": Stage(), "diff_project": Stage()}
    stages.update({f"graph_{f}": Stage() for f in FORMATS})
    pairs = [
        (stages["inspect"], lambda: b.measure([*b.ctl, "inspect", str(a), "--json"])),
        (stages["diff"], lambda: b.measure([*b.ctl, "diff", str(a), str(bb), "--json",
                                            "--exit-zero"])),
        (stages["diff_project"], lambda: b.measure([*b.ctl, "diff", str(project), str(bb),
                                                    "--json", "--exit-zero"])),
    ]
    for fmt in FORMATS:
        pairs.append((stages[f"graph_{fmt}"],
                      lambda fmt=fmt: b.measure([*b.ctl, "graph", str(a), "--format", fmt,
                                                 "-o", str(root / f"g.{fmt}")])))
    repeat(runs, *pairs)
    return stages


def bench_payload(b: Bench, write_project, large: int, runs: int) -> dict:
    out = {}
    for label, size in (("small", MiB), ("large", large)):
        root = b.work / f"payload-{label}"
        project = write_project(root / "project", 10)
        data = next((project / "src").iterdir()) / "data.bin"
        with open(data, "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 4 * MiB))
                f.write(chunk)
                left -= len(chunk)
        a, bb = root / "a.cloacina", root / "b.cloacina"
        package(b, project, a)
        edit_one_body(project)
        package(b, project, bb)
        stage = Stage()
        repeat(runs, (stage, lambda a=a, bb=bb: b.measure(
            [*b.ctl, "diff", str(a), str(bb), "--json", "--exit-zero"])))
        out[label] = {"payload_bytes": size, "package_bytes": a.stat().st_size,
                      "diff_seconds": stage.seconds, "error": stage.error}
    small, big = out["small"]["diff_seconds"], out["large"]["diff_seconds"]
    out["ratio"] = big / small if small and big else None
    return out


def summarise(sizes: list[int], results: dict[int, dict[str, Stage]]) -> dict:
    names = list(next(iter(results.values())))
    secs = {name: {n: results[n][name].seconds for n in sizes} for name in names}
    base = sizes[0]
    ratios = {name: {n: (s[n] / s[base] if s[n] and s[base] else None) for n in sizes}
              for name, s in secs.items()}
    slopes = {name: slope(s.get(1000), s.get(10_000), 1000, 10_000)
              for name, s in secs.items()} if 10_000 in sizes else {}
    over = {n: (secs["diff"][n] / secs["inspect"][n]
                if secs["diff"][n] and secs["inspect"][n] else None) for n in sizes}
    errors = {f"{name}@{n}": results[n][name].error for n in sizes for name in names
              if results[n][name].error}
    return {"seconds": secs, "ratios": ratios, "slopes": slopes, "diff_over_inspect": over,
            "errors": errors}


def markdown(sizes: list[int], summary: dict, payload: dict) -> str:
    def s(v):
        return "—" if v is None else f"{v * 1000:.0f} ms"

    def x(v):
        return "—" if v is None else f"{v:.2f}"

    head = "| stage | " + " | ".join(f"{n:,}" for n in sizes) + " | ratio max/10 | slope 1k→10k |"
    lines = [head, "|" + "---|" * (len(sizes) + 3)]
    for name, row in summary["seconds"].items():
        last = summary["ratios"][name][sizes[-1]]
        lines.append(f"| {name} | " + " | ".join(s(row[n]) for n in sizes)
                     + f" | {x(last)} | {x(summary['slopes'].get(name))} |")
    lines.append("| diff / inspect | " + " | ".join(x(summary["diff_over_inspect"][n])
                                                  for n in sizes) + " | | |")
    p = payload
    lines += ["", f"diff of two 10-task packages: {p['small']['package_bytes'] / MiB:.1f} MB "
              f"{s(p['small']['diff_seconds'])}, {p['large']['package_bytes'] / MiB:.0f} MB "
              f"{s(p['large']['diff_seconds'])}: ratio {x(p['ratio'])}"]
    for where, why in summary["errors"].items():
        lines.append(f"- {where} failed: {why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", help="comma-separated task counts")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--payload-mb", type=int, help="the large payload (default 200, 20 quick)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes \
        else list(QUICK_SIZES if args.quick else SIZES)
    large = (args.payload_mb or (20 if args.quick else 200)) * MiB
    write_project, _ = project_writer()
    with tempfile.TemporaryDirectory(prefix="cloacina-views-") as tmp:
        b = Bench(Path(tmp), timeout=600)
        results = {}
        for n in sizes:
            log(f"N = {n:,}")
            results[n] = bench_size(b, n, write_project, args.runs if n <= 1000 else 1)
        log(f"payload: 1 MB vs {large // MiB} MB")
        payload = bench_payload(b, write_project, large, args.runs)
    summary = summarise(sizes, results)
    if args.json:
        print(json.dumps({"sizes": sizes, **summary, "payload": payload}, indent=2,
                         default=str))
    else:
        print(markdown(sizes, summary, payload))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
