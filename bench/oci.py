#!/usr/bin/env python
"""OCI benchmark: ``cloacinactl push``/``pull`` of a 200 MB package against ``curl``.

Usage::

    python bench/oci.py                     # 200 MB package, 3 runs per side
    python bench/oci.py --quick             # 48 MB, 3 runs per side
    python bench/oci.py --size-mb 200 --runs 5 --save oci.json
    python bench/oci.py --json              # one JSON object (every sample) on stdout
    python bench/oci.py --size-mb 200,800   # and how cost scales: per-MB slopes compared

A ``docker-registry`` (distribution) is started on a free loopback port with a private
storage directory and no auth.  The package is a copy of ``examples/data-pipeline`` with
SIZE MB of random bytes (``os.urandom``, incompressible) added to its wheel, built with
``cloacinactl package``.  Then, side by side, each run into a fresh repository (so no
side finds the blob already there):

- push: ``cloacinactl push PKG oci://127.0.0.1:PORT/bench/tool-N:1.0.0 --plain-http``
  against a plain ``curl`` upload of the same blob: ``POST /v2/bench/curl-N/blobs/uploads/``
  then one monolithic ``PUT LOCATION?digest=sha256:…`` streaming the file (``curl -T``),
  with the digest computed beforehand (not timed, for curl's benefit);
- pull: ``cloacinactl pull oci://…/bench/tool-N@sha256:… -o DIR --plain-http`` against
  ``curl -o FILE`` of the blob (``GET /v2/bench/curl-N/blobs/sha256:…``).

``--explain`` adds, in the same alternation, push in ``PATCH`` chunks whatever the size
(the path of layers larger than one request takes), pull without the ``fsync`` of the
package (each through a patched entry point), and what pull does done by curl and
coreutils (``curl -o``, ``sha256sum -c``, ``sync FILE``),
and measures what importing the OCI code and one sha256 pass over the package cost.

Every command runs as a subprocess of a small probe which prints its wall time and
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the command's peak RSS), as bench/scale.py does.
Figures are medians of ``--runs`` runs, the sides alternating which goes first.  Targets:
push/curl and pull/curl ≤ 1.2, peak RSS of push and of pull < 64 MiB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
REGISTRY = os.environ.get("CLOACINA_DOCKER_REGISTRY", "/usr/bin/docker-registry")
TARGETS = (("push / curl upload", "push_ratio", 1.2),
           ("pull / curl download", "pull_ratio", 1.2),
           ("push peak RSS (MiB)", "push_rss_mib", 64.0),
           ("pull peak RSS (MiB)", "pull_rss_mib", 64.0))
# The measuring probe: the command's wall time and its peak RSS.
_PROBE = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   stdin=subprocess.DEVNULL)
took = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": p.returncode, "seconds": took, "rss_kib": rss,
                  "stdout": p.stdout.decode("utf-8", "replace")[-4000:],
                  "stderr": p.stderr.decode("utf-8", "replace")[-4000:]}))
"""
# --explain: the same commands with one cost taken away, to say where the time goes.
_VARIANT = """\
import os, sys
{patch}
from cloacina_build.cli.main import main
sys.argv = ["cloacinactl", *sys.argv[1:]]
main()
"""
PATCHES = {
    # push: PATCH chunks whatever the size (the path of layers over one PUT's limit)
    "push_chunked": "from cloacina_build.oci import client\n"
                    "client.Registry.__init__.__kwdefaults__['monolithic_max'] = 0",
    # pull: no fsync of the package before it is renamed into place
    "pull_nofsync": "os.fsync = os.fdatasync = lambda fd: None",
}
_IMPORTS = ("import cloacina_build.cli.main",
            "import cloacina_build.cli.main, cloacina_build.oci.pull, cloacina_build.oci.push")
_HASH = ("import hashlib, sys\nh = hashlib.sha256()\nwith open(sys.argv[1], 'rb') as f:\n"
         "    while b := f.read(1 << 20):\n        h.update(b)\n")
# curl's monolithic upload: POST for a session, then one PUT of the whole file.
_CURL_UPLOAD = """\
set -eu
loc=$(curl -sS -f -o /dev/null -w '%header{location}' -X POST "$1/v2/$2/blobs/uploads/")
case "$loc" in http*) ;; *) loc="$1$loc" ;; esac
case "$loc" in *\\?*) sep='&' ;; *) sep='?' ;; esac
curl -sS -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$3" \\
    "$loc${sep}digest=$4"
"""

# the like-for-like baseline of a pull (--explain): download, check, make durable
_CURL_CHECKED = """\
set -eu
curl -sS -f -o "$2" "$1"
echo "$3  $2" | sha256sum -c --status
sync "$2"
"""


def log(msg: str) -> None:
    print(f"[oci] {msg}", file=sys.stderr, flush=True)


@dataclass
class Sample:
    seconds: float
    rss_kib: int


@dataclass
class Side:
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return statistics.median(s.seconds for s in self.samples) if self.samples else None

    @property
    def rss_mib(self) -> float | None:
        return max(s.rss_kib for s in self.samples) / 1024 if self.samples else None


class Failed(Exception):
    pass


def measure(cmd: list[str], env: dict[str, str]) -> tuple[Sample, str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *cmd], capture_output=True,
                         text=True, env=env, check=True)
    record = json.loads(out.stdout)
    if record["code"] != 0:
        raise Failed(f"{' '.join(cmd[:3])}… exited {record['code']}: "
                     f"{(record['stderr'] or record['stdout']).strip()[-600:]}")
    return Sample(record["seconds"], record["rss_kib"]), record["stdout"]


# ------------------------------------------------------------------------ the registry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """distribution on a free loopback port, storage in ``root``, no auth."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Registry:
        (self.root / "data").mkdir(parents=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{self.port}\n")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(config)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.root / "registry.log", "wb"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{REGISTRY} exited: {(self.root / 'registry.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{REGISTRY} did not answer on {self.url} within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------ the package


def build_big(work: Path, size_mb: int, ctl: list[str], env: dict[str, str]) -> Path:
    """examples/data-pipeline with ``size_mb`` MB of random bytes in its wheel."""
    project = work / "big"
    shutil.copytree(REPO / "examples" / "data-pipeline", project,
                    ignore=shutil.ignore_patterns("dist", "__pycache__", ".pytest_cache"))
    with open(project / "workflow" / "data_pipeline" / "blob.bin", "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(1_000_000))
    out = work / "big.cloacina"
    started = time.perf_counter()
    subprocess.run([*ctl, "package", str(project), "-o", str(out), "-q"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    log(f"built {out.name}: {out.stat().st_size / 1e6:.1f} MB in "
        f"{time.perf_counter() - started:.1f} s")
    shutil.rmtree(project)
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


# ------------------------------------------------------------------------ one run


class Bench:
    def __init__(self, work: Path, registry: Registry, pkg: Path) -> None:
        self.work, self.registry, self.pkg = work, registry, pkg
        self.digest = sha256_of(pkg)
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure compiled modules, as installed
        self.env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        self.env["DOCKER_CONFIG"] = str(work / "docker")  # no user credentials in the way
        self.env["CLOACINA_CACHE_DIR"] = str(work / "cache")
        bindir = Path(sys.executable).parent
        self.ctl = [str(bindir / "cloacinactl")] if (bindir / "cloacinactl").is_file() \
            else [sys.executable, "-m", "cloacina_build"]
        self.sides = {name: Side() for name in ("push", "curl_up", "pull", "curl_down",
                                                "push_chunked", "pull_nofsync",
                                                "curl_checked")}
        self.explained: dict[str, float] = {}
        self.manifests: dict[int, str] = {}

    def curl_up(self, i: int) -> Sample:
        return measure(["sh", "-c", _CURL_UPLOAD, "sh", self.registry.url, f"bench/curl-{i}",
                        str(self.pkg), self.digest], self.env)[0]

    def curl_down(self, i: int) -> Sample:
        out = self.work / f"curl-{i}.bin"
        sample = measure(["curl", "-sS", "-f", "-o", str(out),
                          f"{self.registry.url}/v2/bench/curl-{i}/blobs/{self.digest}"],
                         self.env)[0]
        same = sha256_of(out) == self.digest
        out.unlink()
        if not same:
            raise Failed("curl downloaded other bytes than were uploaded")
        return sample

    def push(self, i: int) -> Sample:
        ref = f"oci://{self.registry.host}/bench/tool-{i}:1.0.0"
        sample, stdout = measure([*self.ctl, "push", str(self.pkg), ref, "--plain-http",
                                  "--json"], self.env)
        self.manifests[i] = json.loads(stdout)["digest"]
        return sample

    def push_chunked(self, i: int) -> Sample:
        ref = f"oci://{self.registry.host}/bench/chunked-{i}:1.0.0"
        return measure([*self._variant("push_chunked"), "push", str(self.pkg), ref,
                        "--plain-http", "-q"], self.env)[0]

    def curl_checked(self, i: int) -> Sample:
        """What pull does, done with curl and coreutils: download, check the digest, make
        the file durable (``sync FILE`` is an fsync of it)."""
        out = self.work / f"checked-{i}.bin"
        url = f"{self.registry.url}/v2/bench/curl-{i}/blobs/{self.digest}"
        sample = measure(["sh", "-c", _CURL_CHECKED, "sh", url, str(out),
                          self.digest.removeprefix("sha256:")], self.env)[0]
        out.unlink()
        return sample

    def pull_nofsync(self, i: int) -> Sample:
        return self.pull(i, self._variant("pull_nofsync"), "nofsync")

    def _variant(self, name: str) -> list[str]:
        return [sys.executable, "-c", _VARIANT.format(patch=PATCHES[name])]

    def explain(self, runs: int) -> None:
        """What importing the OCI code costs (on top of the CLI's own imports), and one
        sha256 pass over the package, each a median of ``runs`` fresh interpreters."""
        def median(cmd: list[str]) -> float:
            return statistics.median(measure(cmd, self.env)[0].seconds for _ in range(runs))

        base, oci = (median([sys.executable, "-c", code]) for code in _IMPORTS)
        self.explained["start_cli_s"] = base
        self.explained["import_oci_s"] = oci - base
        self.explained["hash_s"] = median([sys.executable, "-c", _HASH, str(self.pkg)]) - \
            median([sys.executable, "-c", "pass"])

    def pull(self, i: int, ctl: list[str] | None = None, tag: str = "") -> Sample:
        out = self.work / f"pull-{i}{tag}"
        ref = f"oci://{self.registry.host}/bench/tool-{i}@{self.manifests[i]}"
        sample = measure([*(ctl or self.ctl), "pull", ref, "-o", str(out), "--plain-http",
                          "-q"], self.env)[0]
        pulled = list(out.glob("*.cloacina"))
        same = len(pulled) == 1 and sha256_of(pulled[0]) == self.digest
        shutil.rmtree(out)
        if not same:
            raise Failed("pull wrote other bytes than were pushed")
        return sample

    def run(self, runs: int, sides: tuple[str, ...]) -> None:
        """Uploads first (each side into its own fresh repositories), then downloads; one
        untimed warm-up of each side, then ``runs`` runs, alternating which goes first."""
        for phase in (("push", "curl_up", "push_chunked"),
                      ("pull", "curl_down", "pull_nofsync", "curl_checked")):
            phase = tuple(n for n in phase if n in sides)
            for i in range(runs + 1):
                for name in phase if i % 2 == 0 else phase[::-1]:
                    sample = getattr(self, name)(i)
                    if i > 0:
                        self.sides[name].samples.append(sample)
                if i > 0:
                    log(f"run {i}: " + ", ".join(
                        f"{n} {self.sides[n].samples[-1].seconds:.2f} s "
                        f"({self.sides[n].samples[-1].rss_kib / 1024:.0f} MiB)" for n in phase))


# ------------------------------------------------------------------------ the report


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def summary(b: Bench) -> dict:
    s = b.sides
    return {
        "push_s": s["push"].seconds, "curl_upload_s": s["curl_up"].seconds,
        "pull_s": s["pull"].seconds, "curl_download_s": s["curl_down"].seconds,
        "push_ratio": _ratio(s["push"].seconds, s["curl_up"].seconds),
        "pull_ratio": _ratio(s["pull"].seconds, s["curl_down"].seconds),
        "push_rss_mib": s["push"].rss_mib, "pull_rss_mib": s["pull"].rss_mib,
        "curl_upload_rss_mib": s["curl_up"].rss_mib,
        "curl_download_rss_mib": s["curl_down"].rss_mib,
        "push_chunked_s": s["push_chunked"].seconds, "pull_no_fsync_s": s["pull_nofsync"].seconds,
        "curl_checked_s": s["curl_checked"].seconds,
        "pull_checked_ratio": _ratio(s["pull"].seconds, s["curl_checked"].seconds),
        **b.explained,
    }


def _f(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.2f}{unit}"


def markdown(result: dict) -> str:
    r = result["summary"]
    size = result["package_bytes"] / 1e6
    lines = [f"OCI push/pull of a {size:.1f} MB package, median of {result['runs']} runs "
             f"per side ({result['machine']})", "",
             "| operation | cloacinactl | curl | ratio | peak RSS (cloacinactl) |",
             "|---|---:|---:|---:|---:|",
             f"| push / upload | {_f(r['push_s'], ' s')} | {_f(r['curl_upload_s'], ' s')} | "
             f"{_f(r['push_ratio'])} | {_f(r['push_rss_mib'], ' MiB')} |",
             f"| pull / download | {_f(r['pull_s'], ' s')} | {_f(r['curl_download_s'], ' s')} "
             f"| {_f(r['pull_ratio'])} | {_f(r['pull_rss_mib'], ' MiB')} |", "",
             "| target | measured | bound | met |", "|---|---:|---:|---|"]
    for what, key, bound in TARGETS:
        value = r[key]
        met = "—" if value is None else "yes" if value <= bound else "NO"
        lines.append(f"| {what} | {_f(value)} | {bound:g} | {met} |")
    if r.get("push_chunked_s") is not None:
        lines += ["", "Where the time goes (--explain):", "",
                  "| variant | time | ratio to curl |", "|---|---:|---:|",
                  f"| push in PATCH chunks | {_f(r['push_chunked_s'], ' s')} | "
                  f"{_f(_ratio(r['push_chunked_s'], r['curl_upload_s']))} |",
                  f"| curl, then sha256sum -c, then sync FILE (what pull does) | "
                  f"{_f(r.get('curl_checked_s'), ' s')} | "
                  f"{_f(_ratio(r.get('curl_checked_s'), r['curl_download_s']))} |",
                  f"| pull / that | {_f(r.get('pull_checked_ratio'))} | |",
                  f"| pull without fsync | {_f(r['pull_no_fsync_s'], ' s')} | "
                  f"{_f(_ratio(r['pull_no_fsync_s'], r['curl_download_s']))} |",
                  f"| starting Python and importing the CLI | "
                  f"{_f(r.get('start_cli_s'), ' s')} | "
                  f"{_f(_ratio(r.get('start_cli_s'), r['curl_download_s']))} |",
                  f"| importing the OCI code (on top of the CLI's) | "
                  f"{_f(r.get('import_oci_s'), ' s')} | |",
                  f"| one sha256 pass over the package | {_f(r.get('hash_s'), ' s')} | |"]
    return "\n".join(lines)


def scaling(results: list[dict]) -> list[dict]:
    """Between each size and the next: how much more each side took per extra MB, and
    the ratio of those slopes: the cost per byte, start-up costs taken out."""
    rows = []
    for small, big in zip(results, results[1:], strict=False):
        mb = (big["package_bytes"] - small["package_bytes"]) / 1e6
        a, b = small["summary"], big["summary"]
        row = {"from_mb": small["package_bytes"] / 1e6, "to_mb": big["package_bytes"] / 1e6}
        for op, ours, curl in (("push", "push_s", "curl_upload_s"),
                               ("pull", "pull_s", "curl_download_s")):
            if None in (a[ours], b[ours], a[curl], b[curl]):
                continue
            row[f"{op}_ms_per_mb"] = (b[ours] - a[ours]) / mb * 1000
            row[f"curl_{op}_ms_per_mb"] = (b[curl] - a[curl]) / mb * 1000
            row[f"{op}_marginal_ratio"] = _ratio(b[ours] - a[ours], b[curl] - a[curl])
        rows.append(row)
    return rows


def scaling_markdown(rows: list[dict], results: list[dict]) -> str:
    lines = ["| size | push / curl | pull / curl |", "|---:|---:|---:|"]
    lines += [f"| {r['package_bytes'] / 1e6:.0f} MB | {_f(r['summary']['push_ratio'])} | "
              f"{_f(r['summary']['pull_ratio'])} |" for r in results]
    lines += ["", "| from → to | push ms/MB (curl) | push marginal ratio | "
              "pull ms/MB (curl) | pull marginal ratio |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['from_mb']:.0f} → {r['to_mb']:.0f} MB | "
            f"{_f(r.get('push_ms_per_mb'))} ({_f(r.get('curl_push_ms_per_mb'))}) | "
            f"{_f(r.get('push_marginal_ratio'))} | "
            f"{_f(r.get('pull_ms_per_mb'))} ({_f(r.get('curl_pull_ms_per_mb'))}) | "
            f"{_f(r.get('pull_marginal_ratio'))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", default="200",
                        help="MB of random bytes in the wheel; several (200,800) also "
                             "measure how cost scales: the ratio of per-MB slopes")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side")
    parser.add_argument("--quick", action="store_true", help="48 MB")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--save", type=Path, help="also write the JSON result here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--curl-only", action="store_true",
                        help="measure only the curl baseline (checks the registry and curl)")
    parser.add_argument("--explain", action="store_true",
                        help="also measure push in PATCH chunks, pull without fsync, "
                             "the OCI code's import time and a sha256 pass: where time goes")
    args = parser.parse_args()
    for tool in (REGISTRY, "curl"):
        if not shutil.which(tool):
            raise SystemExit(f"the benchmark needs {tool} (Debian: docker-registry, curl)")
    try:
        sizes = [48] if args.quick else [int(x) for x in args.size_mb.split(",")]
    except ValueError:
        parser.error("--size-mb takes whole numbers, comma-separated: 200 or 200,800")
    (HERE / ".work").mkdir(exist_ok=True)
    sides = ("curl_up", "curl_down") if args.curl_only else \
        ("push", "curl_up", "pull", "curl_down") + \
        (("push_chunked", "pull_nofsync", "curl_checked") if args.explain else ())
    results = []
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix="oci-", dir=HERE / ".work"))
        try:
            results.append(_run(work, size, args.runs, sides))
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    result = results[0] if len(results) == 1 else \
        {**results[0], "sizes": results, "scaling": scaling(results)}
    text = json.dumps(result, indent=2)
    if args.save:
        args.save.write_text(text + "\n")
    report = markdown(result)
    if len(results) > 1:
        report += "\n\nHow the cost scales with the package's size:\n\n" + \
            scaling_markdown(result["scaling"], results)
    print(text if args.json else report)
    missed = [what for what, key, bound in TARGETS
              if result["summary"][key] is None or result["summary"][key] > bound]
    if args.strict and missed:
        sys.exit(1)


def _run(work: Path, size: int, runs: int, sides: tuple[str, ...]) -> dict:
    with Registry(work / "registry") as registry:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        ctl = [sys.executable, "-m", "cloacina_build"]
        pkg = build_big(work, size, ctl, env)
        b = Bench(work, registry, pkg)
        b.run(runs, sides)
        if "push_chunked" in sides:
            b.explain(runs)
    return {"package_bytes": pkg.stat().st_size, "runs": runs, "summary": summary(b),
            "samples": {n: [vars(s) for s in side.samples] for n, side in b.sides.items()},
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
                       f"Python {platform.python_version()}"}


if __name__ == "__main__":
    main()
