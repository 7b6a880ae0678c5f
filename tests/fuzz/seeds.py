"""Seed inputs for every fuzz target, made from the example projects: real packages, real
signatures (made with a key generated here), real wheels, a real shared library."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from cloacina_build import (
    build_package,
    generate_key,
    load_signing_key,
    sign_detached,
    sign_package,
)

from .. import hostile
from . import targets

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_LIB_C = b'int cloacina_fuzz_seed(int x) { return x + 1; }\n'


def prepare(work: Path) -> dict[str, list[bytes]]:
    """Build the seed packages under ``work``, point the targets at them, and return the
    seeds of every target."""
    work.mkdir(parents=True, exist_ok=True)
    pkgs = {name: work / f"{name}.cloacina" for name in ("data-pipeline", "order-etl")}
    for name, path in pkgs.items():
        if not path.exists():
            build_package(EXAMPLES / name, path)
    base = pkgs["data-pipeline"]
    members = hostile.read_members(base)
    trust, signed = _signed_copies(work, base)
    attested = _attested(work, base, trust)
    targets._BASE.update(members=members, payload=hostile.payload_name(members),
                         trust=trust, signed=signed,
                         attested=(attested.name, hashlib.sha256(attested.read_bytes())
                                   .hexdigest()),
                         tasks_py=(EXAMPLES / "data-pipeline/workflow/data_pipeline/tasks.py")
                         .read_bytes())
    seeds: dict[str, list[bytes]] = {
        "manifest": [hostile.get(hostile.read_members(p), "manifest.json")
                     for p in pkgs.values()],
        "package_bytes": [p.read_bytes() for p in pkgs.values()] + [signed.read_bytes()],
        "tar_stream": [hostile.decompress(p) for p in pkgs.values()],
        "engine_tar": _engine_tars(work),
        "wheel": [hostile.get(members, targets._BASE["payload"])],  # type: ignore[arg-type]
        "wheel_index": [hostile.get(m, hostile.payload_name(m))
                        for m in map(hostile.read_members, pkgs.values())],
        "signature": [data for name, data in hostile.read_members(signed)
                      if name.startswith("signatures/")],
        "detached_signature": [(work / (signed.name + ".sig")).read_bytes()],
        "provenance": [(work / (attested.name + ".intoto.jsonl")).read_bytes()],
        "elf": _shared_library(work),
        "source": [p.read_bytes() for p in sorted(EXAMPLES.glob("*/workflow/*/*.py"))],
        "package_toml": [p.read_bytes() for p in sorted(EXAMPLES.glob("*/package.toml"))],
    }
    return seeds


def _engine_tars(work: Path) -> list[bytes]:
    """The decompressed tars of an engine archive written here and of the engine's own
    Python fixture (the second holds no build manifest, so discovery reads the source)."""
    import bz2

    ours = work / "engine.cloacina"
    if not ours.exists():
        build_package(EXAMPLES / "data-pipeline", ours, format="engine")
    fixture = Path(__file__).resolve().parents[1] / "fixtures/engine/python-workflow.cloacina"
    found = [ours] + ([fixture] if fixture.is_file() else [])
    return [bz2.decompress(p.read_bytes()) for p in found]


def _attested(work: Path, base: Path, keys: Path) -> Path:
    """A copy of the package with a real attestation beside it (by the trusted key)."""
    from cloacina_build.ops.attest import attest_package

    attested = work / "attested.cloacina"
    if not (work / "attested.cloacina.intoto.jsonl").exists():
        shutil.copyfile(base, attested)
        attest_package(attested, load_signing_key(str(keys / "fuzz.key")), env={})
    return attested


def _signed_copies(work: Path, base: Path) -> tuple[Path, Path]:
    keys = work / "keys"
    if not keys.exists():
        generate_key("fuzz", keys)
    key = load_signing_key(str(keys / "fuzz.key"))
    signed = work / "signed.cloacina"
    if not signed.exists():
        shutil.copyfile(base, signed)
        sign_package(signed, key, comment="fuzz seed")
        sign_detached(signed, key)
    return keys, signed


def _shared_library(work: Path) -> list[bytes]:
    lib = work / "libseed.so"
    if not lib.exists() and shutil.which("gcc"):
        src = work / "seed.c"
        src.write_bytes(_LIB_C)
        subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)],
                       check=True, capture_output=True)
    return [lib.read_bytes()] if lib.exists() else []


def write_corpus(seeds: list[bytes], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (directory / hashlib.sha256(seed).hexdigest()[:16]).write_bytes(seed)
    return directory
