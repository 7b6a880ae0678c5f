"""The library's progress events (cloacina_build.progress): each long operation names its
steps in order and reports the bytes it streams, per chunk, summing to what it read."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.build.convert import convert_package
from cloacina_build.format.archive import CHUNK
from cloacina_build.ops.inspect import inspect
from cloacina_build.ops.signing import sign_package
from cloacina_build.ops.validate import validate_package, validate_project, verify_package
from cloacina_build.progress import NO_PROGRESS, Progress, Terminal
from cloacina_build.runtime.loader import load_package
from cloacina_build.trust.keys import generate_pair, load_signing_key
from cloacina_build.trust.policy import TrustPolicy
from cloacina_build.trust.store import load_trust

from .conftest import EXAMPLES

BLOB = 3 * CHUNK + 12345  # random bytes in the payload: several chunks to stream


class Recorder(Progress):
    """Every event, in order: ("phase", name), ("total", n), ("advance", n)."""

    def __init__(self, lend: Terminal | None = None) -> None:
        self.events: list[tuple[str, object]] = []
        self.lend = lend

    def phase(self, name: str) -> None:
        self.events.append(("phase", name))

    def total(self, nbytes: int) -> None:
        self.events.append(("total", nbytes))

    def advance(self, nbytes: int) -> None:
        self.events.append(("advance", nbytes))

    @contextlib.contextmanager
    def tool(self, name: str):
        self.phase(name)
        yield self.lend

    @property
    def phases(self) -> list[str]:
        return [str(v) for k, v in self.events if k == "phase"]

    def step(self, name: str) -> list[tuple[str, object]]:
        """The events of the (last) step named ``name``."""
        start = len(self.events) - 1 - self.events[::-1].index(("phase", name))
        rest = self.events[start + 1:]
        end = next((i for i, (k, _) in enumerate(rest) if k == "phase"), len(rest))
        return rest[:end]


def streamed(events) -> tuple[int | None, int, int]:
    """The step's total, the bytes advanced, and how many advances."""
    totals = [v for k, v in events if k == "total"]
    advances = [v for k, v in events if k == "advance"]
    return (totals[-1] if totals else None), sum(advances), len(advances)


@pytest.fixture(scope="module")
def big_project(tmp_path_factory) -> Path:
    """The data-pipeline example with a few MiB of random data in its package."""
    dst = tmp_path_factory.mktemp("big") / "data-pipeline"
    shutil.copytree(EXAMPLES / "data-pipeline", dst,
                    ignore=shutil.ignore_patterns("dist", "__pycache__"))
    (dst / "workflow" / "data_pipeline" / "blob.bin").write_bytes(os.urandom(BLOB))
    return dst


@pytest.fixture(scope="module")
def big_pkg(big_project, tmp_path_factory) -> Path:
    return build_package(big_project, tmp_path_factory.mktemp("out") / "big.cloacina").path


@pytest.fixture(scope="module")
def big_engine(big_project, tmp_path_factory) -> Path:
    return build_package(big_project, tmp_path_factory.mktemp("out") / "big.cloacina",
                         format="engine").path


def test_the_default_does_nothing():
    with NO_PROGRESS.tool("cargo build") as terminal:
        assert terminal is None
    NO_PROGRESS.phase("x")
    NO_PROGRESS.total(1)
    NO_PROGRESS.advance(1)


def test_a_build_names_its_steps_and_streams_the_payload(big_project, tmp_path):
    seen = Recorder()
    result = build_package(big_project, tmp_path / "out.cloacina", progress=seen)
    assert seen.phases == ["reading the project", "discovering tasks", "building the wheel",
                           "checking the wheel", "writing the package"]
    total, done, count = streamed(seen.step("writing the package"))
    assert total == done == result.manifest.payload.size > BLOB
    assert count <= done // CHUNK + 1  # per chunk, never per byte


def test_a_signed_build_ends_with_signing(pipeline_project, tmp_path):
    generate_pair("k", tmp_path / "keys")
    seen = Recorder()
    build_package(pipeline_project, tmp_path / "out.cloacina", progress=seen,
                  sign_key=load_signing_key(str(tmp_path / "keys" / "k.key")))
    assert seen.phases[-2:] == ["writing the package", "signing"]


def test_an_engine_build_names_its_steps_and_streams_the_source(big_project, tmp_path):
    seen = Recorder()
    result = build_package(big_project, tmp_path / "out.cloacina", format="engine",
                           progress=seen)
    assert seen.phases == ["reading the project", "discovering tasks", "hashing the source",
                           "writing the archive", "checking the archive"]
    total, done, _ = streamed(seen.step("writing the archive"))
    assert total == done == result.manifest.payload.size > BLOB


def test_validate_streams_the_whole_file_once(big_pkg):
    seen = Recorder()
    assert validate_package(big_pkg, progress=seen).ok
    assert seen.phases == ["reading the package", "checking the payload"]
    total, done, count = streamed(seen.step("reading the package"))
    assert total == done == big_pkg.stat().st_size
    assert count <= done // CHUNK + 2


def test_verify_reports_the_same_single_pass(big_pkg, tmp_path):
    signed = tmp_path / "signed.cloacina"
    shutil.copyfile(big_pkg, signed)
    generate_pair("k", tmp_path / "keys")
    sign_package(signed, load_signing_key(str(tmp_path / "keys" / "k.key")))
    seen = Recorder()
    report = verify_package(signed, TrustPolicy(trust=load_trust(tmp_path / "keys")),
                            progress=seen)
    assert report.ok and seen.phases == ["reading the package", "checking the payload"]
    assert streamed(seen.step("reading the package"))[:2] == (signed.stat().st_size,) * 2


def test_an_engine_archive_is_read_once_then_hashed_for_its_signatures(big_engine, tmp_path):
    seen = Recorder()
    assert validate_package(big_engine, progress=seen).ok
    assert seen.phases == ["reading the archive", "discovering tasks"]
    total, done, count = streamed(seen.step("reading the archive"))
    assert total == big_engine.stat().st_size and 0 < done <= total
    assert count <= done // (64 * 1024) + 2  # the bzip2 reader's chunks
    generate_pair("k", tmp_path / "keys")
    signed = tmp_path / "signed.cloacina"
    shutil.copyfile(big_engine, signed)
    sign_package(signed, load_signing_key(str(tmp_path / "keys" / "k.key")))
    seen = Recorder()
    assert verify_package(signed, TrustPolicy(trust=load_trust(tmp_path / "keys")),
                          progress=seen).ok
    assert seen.phases[-1] == "hashing the file"
    assert streamed(seen.step("hashing the file"))[:2] == (signed.stat().st_size,) * 2


def test_inspect_reports_reading_an_engine_archive_it_reads_whole(big_engine, tmp_path):
    generate_pair("k", tmp_path / "keys")
    signed = tmp_path / "signed.cloacina"
    shutil.copyfile(big_engine, signed)
    sign_package(signed, load_signing_key(str(tmp_path / "keys" / "k.key")))
    seen = Recorder()
    inspect(signed, progress=seen)  # signed: read whole, not from its head
    assert seen.phases[:2] == ["reading the archive", "discovering tasks"]
    seen = Recorder()
    inspect(big_engine, progress=seen)  # this tool's unsigned archive: the head only
    assert seen.events == []


def test_validating_a_project_names_its_steps(pipeline_project):
    seen = Recorder()
    assert validate_project(pipeline_project, progress=seen).ok
    assert seen.phases == ["reading the project", "discovering tasks"]


def test_a_cold_load_streams_the_package_and_a_warm_one_does_not(big_pkg, tmp_path):
    seen = Recorder()
    with load_package(big_pkg, cache_dir=tmp_path / "cache", progress=seen):
        pass
    assert seen.phases == ["reading the package", "checking the payload",
                           "installing the wheel", "importing the workflow"]
    assert streamed(seen.step("reading the package"))[1] == big_pkg.stat().st_size
    seen = Recorder()
    with load_package(big_pkg, cache_dir=tmp_path / "cache", progress=seen):
        pass
    assert seen.phases == ["importing the workflow"]


def test_an_engine_load_names_its_steps(big_engine, tmp_path):
    seen = Recorder()
    with load_package(big_engine, cache_dir=tmp_path / "cache", progress=seen):
        pass
    assert seen.phases == ["reading the archive", "discovering tasks",
                           "unpacking the archive", "importing the workflow"]


def test_convert_reports_each_stage(built_pipeline, tmp_path):
    seen = Recorder()
    convert_package(built_pipeline, "engine", tmp_path / "e.cloacina", progress=seen)
    assert seen.phases == ["reading the package", "checking the payload",
                           "unpacking the wheel", "reading the project", "discovering tasks",
                           "hashing the source", "writing the archive",
                           "checking the archive", "writing the result"]
    seen = Recorder()
    convert_package(tmp_path / "e.cloacina", "cloacina", tmp_path / "z.cloacina",
                    progress=seen)
    assert seen.phases[:3] == ["reading the archive", "discovering tasks",
                               "unpacking the archive"]
    assert "building the wheel" in seen.phases and seen.phases[-1] == "writing the result"


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
def test_cargo_writes_to_the_terminal_it_is_lent(tmp_path):
    from cloacina_build.project.scaffold import create_project

    crate = create_project("lent-flow", template="rust", path=tmp_path / "lent-flow")
    read, write = os.pipe()
    try:
        seen = Recorder(lend=Terminal(write, colour=False))
        build_package(crate, tmp_path / "out.cloacina", progress=seen)
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as fh:
        said = fh.read().decode()
    assert "cargo build" in seen.phases and "Finished" in said and "\x1b[" not in said


def test_ls_streams_the_whole_package_once(big_pkg, big_engine):
    """ls reads a whole package (an 800 MiB one for seconds): the bytes are reported."""
    from cloacina_build.ops.listing import list_package

    seen = Recorder()
    assert list_package(big_pkg, progress=seen).ok
    assert seen.phases == ["reading the package"]
    total, done, count = streamed(seen.step("reading the package"))
    assert total == done == big_pkg.stat().st_size
    assert count <= done // CHUNK + 2
    seen = Recorder()
    assert list_package(big_engine, progress=seen).ok
    assert seen.phases == ["reading the package"]
    total, done, count = streamed(seen.step("reading the package"))
    assert total == big_engine.stat().st_size and 0 < done <= total  # the first stream
    assert count <= done // (64 * 1024) + 2  # the bzip2 reader's chunks


def test_diff_payload_reports_reading_both_packages(big_pkg, big_engine):
    from cloacina_build.ops.diff import diff_paths

    seen = Recorder()
    diff_paths(big_pkg, big_engine, payload=True, progress=seen)
    assert seen.phases == ["reading OLD", "reading NEW"]
    assert streamed(seen.step("reading OLD"))[:2] == (big_pkg.stat().st_size,) * 2
    total, done, _ = streamed(seen.step("reading NEW"))
    assert total == big_engine.stat().st_size and 0 < done <= total
    quiet = Recorder()
    diff_paths(big_pkg, big_engine, progress=quiet)  # heads only: nothing long to report
    assert quiet.events == []
