"""Fuzz targets: one function per reader, each taking arbitrary bytes.

A target may end in a result, a finding or a :class:`~cloacina_build.errors.CloacinaError`;
any other exception is a bug (the fuzzer reports it as a crash, and the input becomes a
named regression case under ``tests/fuzz/regressions/<target>/``).  The same functions run
under atheris (``python -m tests.fuzz.run``) and in the normal suite (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import zstandard

from cloacina_build import inspect_package, validate_package, validate_project
from cloacina_build.errors import CloacinaError
from cloacina_build.model import Manifest

from .. import hostile

Target = Callable[[bytes], None]
# Scratch files for the targets: inside the caller's CLOACINA_FUZZ_WORK when it gives one
# (the suite's temporary directory, removed with it), else a private directory removed at exit.
_PARENT = os.environ.get("CLOACINA_FUZZ_WORK")
if _PARENT:
    os.makedirs(_PARENT, exist_ok=True)
_WORK = Path(tempfile.mkdtemp(prefix="cloacina-fuzz-", dir=_PARENT))
_BASE: dict[str, object] = {}  # the seed package's members, set by seeds.prepare()


def _check_findings(findings) -> None:
    for finding in findings:
        json.dumps(finding.to_dict(), ensure_ascii=False).encode("utf-8")
        finding.render()


def _read_package(path: Path) -> None:
    """validate, inspect and ls: each must end in a result or our own error."""
    from cloacina_build.ops.listing import list_package

    report = validate_package(path)
    _check_findings(report.findings)
    json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")
    try:
        listing = list_package(path)
    except CloacinaError:
        pass
    else:
        _check_findings(listing.findings)
        json.dumps(listing.to_dict(), ensure_ascii=False).encode("utf-8")
    try:
        info = inspect_package(path)
    except CloacinaError:
        return
    json.dumps(info, ensure_ascii=False, default=str).encode("utf-8")


def _guarded(fn: Callable[[bytes], None]) -> Target:
    def run(data: bytes) -> None:
        try:
            fn(data)
        except CloacinaError as exc:
            exc.diagnostics().encode("utf-8")
    run.__name__ = fn.__name__
    return run


@_guarded
def manifest(data: bytes) -> None:
    """Manifest.parse on any bytes; an accepted manifest round-trips byte for byte."""
    model, findings = Manifest.parse(data)
    _check_findings(findings)
    if model is not None:
        again, _ = Manifest.parse(model.to_json())
        assert again is not None and again.to_json() == model.to_json()


@_guarded
def package_bytes(data: bytes) -> None:
    """The whole file, byte level: framing, zstd, tar, everything behind them."""
    path = _WORK / "bytes.cloacina"
    path.write_bytes(data)
    _read_package(path)


@_guarded
def tar_stream(data: bytes) -> None:
    """The decompressed tar stream, compressed here: tar headers, PAX, names, members."""
    path = _WORK / "tar.cloacina"
    path.write_bytes(zstandard.ZstdCompressor(level=1).compress(data))
    _read_package(path)


@_guarded
def engine_tar(data: bytes) -> None:
    """An engine archive's tar stream (bzip2-compressed here): the engine-format reader,
    its rules, both package.toml views and static discovery from the archive's source."""
    import bz2

    path = _WORK / "engine.cloacina"
    path.write_bytes(bz2.compress(data, 1))
    _read_package(path)


@_guarded
def wheel(data: bytes) -> None:
    """The payload wheel, in an otherwise valid package whose digests match it."""
    members = hostile.replace(list(_BASE["members"]), _BASE["payload"], data)  # type: ignore[call-overload]
    path = hostile.write_members(_WORK / "wheel.cloacina", hostile.fix_manifest(members))
    _read_package(path)


@_guarded
def wheel_index(data: bytes) -> None:
    """``ls``'s reader of a wheel's central directory and RECORD, through windows of three
    sizes over any bytes (the range RECORD needs fetched as ``ls`` does)."""
    from cloacina_build.format.limits import Limits
    from cloacina_build.format.wheel_index import Needed, Tail, read_index
    from cloacina_build.ops.listing import wheel_files

    for keep in (64, 1024, 1 << 20):
        tail = Tail(keep)
        tail.feed(data)
        limits = Limits(max_wheel_index=keep)
        found = read_index(tail.window("fuzz.whl"), limits, "payload")
        if isinstance(found, Needed):
            piece = data[found.start:found.end]
            found = read_index(tail.window().with_piece(found.start, piece), limits,
                               "payload")
        if not isinstance(found, Needed):
            _check_findings(found.findings)
            json.dumps([f.to_dict() for f in wheel_files(found)], ensure_ascii=False)


@_guarded
def signature(data: bytes) -> None:
    """A signature record in the trailer of an otherwise valid package."""
    members = list(_BASE["members"]) + [("signatures/fuzz.json", data)]  # type: ignore[call-overload]
    path = hostile.write_members(_WORK / "sig.cloacina", members)
    _read_package(path)


@_guarded
def detached_signature(data: bytes) -> None:
    """A detached FILE.sig beside a valid package, verified against a trust store."""
    from cloacina_build import TrustPolicy, load_trust, verify_package

    pkg = _WORK / "detached.cloacina"
    if not pkg.exists():  # the package the seed .sig was made for
        shutil.copyfile(_BASE["signed"], pkg)  # type: ignore[arg-type]
    sig = _WORK / "detached.cloacina.sig"
    sig.write_bytes(data)
    policy = TrustPolicy(trust=load_trust(_BASE["trust"]), detached=sig)  # type: ignore[arg-type]
    report = verify_package(pkg, policy)
    _check_findings(report.findings)


@_guarded
def provenance(data: bytes) -> None:
    """A FILE.intoto.jsonl (DSSE envelope, in-toto statement, SLSA predicate) judged
    against a trust store, for the package the seed attestation was made for."""
    from cloacina_build import load_trust
    from cloacina_build.trust.provenance import judge_attestation

    name, sha256 = _BASE["attested"]  # type: ignore[misc]
    verdict = judge_attestation(data, where="fuzz.intoto.jsonl", name=name, sha256=sha256,
                                trust=load_trust(_BASE["trust"]))  # type: ignore[arg-type]
    _check_findings(verdict.findings)
    json.dumps(verdict.to_dict(), ensure_ascii=False).encode("utf-8")


@_guarded
def elf(data: bytes) -> None:
    """The ELF reader on any bytes."""
    from cloacina_build.format.elf import describe_library, embedded_metadata

    path = _WORK / "lib.so"
    path.write_bytes(data)
    facts = describe_library(path)
    json.dumps(facts, default=str).encode("utf-8")
    embedded_metadata(path)


def _project(files: dict[str, bytes]) -> Path:
    root = _WORK / "project"
    if root.exists():
        shutil.rmtree(root)
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


_TOML = b'[package]\nname = "fuzzed"\nversion = "1.0.0"\n'


@_guarded
def source(data: bytes) -> None:
    """Static discovery of a Python entry module holding any bytes."""
    root = _project({"package.toml": _TOML, "workflow/fuzzed/__init__.py": b"",
                     "workflow/fuzzed/tasks.py": data})
    _check_findings(validate_project(root).findings)


@_guarded
def package_toml(data: bytes) -> None:
    """A project's package.toml holding any bytes."""
    root = _project({"package.toml": data, "workflow/fuzzed/__init__.py": b"",
                     "workflow/fuzzed/tasks.py": _BASE["tasks_py"]})  # type: ignore[dict-item]
    _check_findings(validate_project(root).findings)


TARGETS: dict[str, Target] = {t.__name__: t for t in (
    manifest, package_bytes, tar_stream, engine_tar, wheel, wheel_index, signature,
    detached_signature, provenance, elf, source, package_toml)}
ORDER = sorted(TARGETS)
ALL = "all"  # every target in one fuzzer (see all_targets)


def all_targets(data: bytes) -> None:
    """Every target behind one entry point: the first byte picks the target (by its place
    in ``ORDER``), the rest is its input.  One process instruments the package once (about
    seven seconds) instead of once per target, which is what a short run in the suite can
    afford; long runs fuzz each target on its own."""
    if data:
        TARGETS[ORDER[data[0] % len(ORDER)]](data[1:])


def target(name: str) -> Target:
    return all_targets if name == ALL else TARGETS[name]


def tagged(seeds: dict[str, list[bytes]]) -> list[bytes]:
    """The seeds of every target, each behind the byte that selects it in ``all_targets``."""
    return [bytes([ORDER.index(name)]) + seed for name in ORDER for seed in seeds[name]]


def cleanup() -> None:
    shutil.rmtree(_WORK, ignore_errors=True)


atexit.register(cleanup)


def env_ok() -> bool:
    return os.access(_WORK, os.W_OK)
