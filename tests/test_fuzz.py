"""Fuzzing in the suite: a short coverage-guided run of every target (atheris), and every
input the fuzzers ever found replayed as a named regression case.

Long runs: ``python -m tests.fuzz.run TARGET -max_total_time=3600`` (see tests/fuzz/run.py
and docs/format.md#fuzzing).  ``CLOACINA_FUZZ_SECONDS`` sets the short runs' length."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .fuzz import seeds, targets

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = Path(__file__).resolve().parent / "fuzz" / "regressions"
SECONDS = int(os.environ.get("CLOACINA_FUZZ_SECONDS", "3"))


@pytest.fixture(scope="module")
def seed_work(tmp_path_factory) -> tuple[Path, dict[str, list[bytes]]]:
    work = tmp_path_factory.mktemp("fuzz-work")
    return work, seeds.prepare(work)


def _regressions() -> list[tuple[str, Path]]:
    return [(p.parent.name, p) for p in sorted(REGRESSIONS.glob("*/*")) if p.is_file()]


def test_every_target_has_seeds(seed_work):
    _, all_seeds = seed_work
    assert set(all_seeds) == set(targets.TARGETS)
    for name, found in all_seeds.items():
        if name == "elf" and not found:
            pytest.skip("no gcc to build the seed shared library")
        assert found and all(isinstance(s, bytes) and s for s in found), name


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_seeds_run_clean_in_process(name, seed_work):
    """Every seed through its target in this process: nothing but our own errors."""
    _, all_seeds = seed_work
    for seed in all_seeds[name]:
        targets.TARGETS[name](seed)
        targets.TARGETS[name](seed[: len(seed) // 2])  # and cut short


@pytest.mark.parametrize("name, path", _regressions(), ids=[f"{n}/{p.name}" for n, p in
                                                            _regressions()])
def test_regressions_stay_fixed(name, path, seed_work):
    targets.TARGETS[name](path.read_bytes())


def test_regression_directories_name_real_targets():
    for directory in REGRESSIONS.iterdir():
        if directory.is_dir():
            assert directory.name in targets.TARGETS, directory


def _fuzz(name: str, work: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CLOACINA_FUZZ_WORK=str(work))
    corpus = work / "corpus" / name
    return subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", name, str(corpus),
         f"-max_total_time={SECONDS}", f"-artifact_prefix={work}/{name}-", "-print_final_stats=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=SECONDS * 10 + 120)


def test_short_fuzz_runs_find_nothing(seed_work):
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    work, _ = seed_work
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(targets.TARGETS, pool.map(lambda n: _fuzz(n, work), targets.TARGETS)))
    failed = {}
    for name, proc in runs.items():
        if proc.returncode != 0 or "stat::number_of_executed_units" not in proc.stderr:
            artifacts = sorted(str(p) for p in work.glob(f"{name}-*"))
            failed[name] = (proc.returncode, artifacts, proc.stderr[-3000:])
    assert not failed, failed
