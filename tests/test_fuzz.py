"""Fuzzing in the suite: a short coverage-guided run of every target (atheris), and every
input the fuzzers ever found replayed as a named regression case.

Long runs: ``python -m tests.fuzz.run TARGET -max_total_time=3600`` (see tests/fuzz/run.py
and docs/format.md#fuzzing).  ``CLOACINA_FUZZ_SECONDS`` sets the short runs' length."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .fuzz import seeds, targets

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = Path(__file__).resolve().parent / "fuzz" / "regressions"
SECONDS = int(os.environ.get("CLOACINA_FUZZ_SECONDS", "6"))  # the whole short run


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
    targets.target(name)(path.read_bytes())


def test_regression_directories_name_real_targets():
    for directory in REGRESSIONS.iterdir():
        if directory.is_dir():
            assert directory.name in (*targets.TARGETS, targets.ALL), directory


def test_the_combined_target_reaches_every_target(seed_work, monkeypatch):
    """``all`` hands each tagged seed to the target its first byte names."""
    _, all_seeds = seed_work
    called: list[str] = []
    for name in targets.ORDER:
        monkeypatch.setitem(targets.TARGETS, name, lambda data, n=name: called.append(n))
    for seed in targets.tagged(all_seeds):
        targets.all_targets(seed)
    assert set(called) == {n for n in targets.ORDER if all_seeds[n]}


def test_a_short_fuzz_run_finds_nothing(seed_work):
    """Every target under atheris for SECONDS in one process (the ``all`` target)."""
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    work, _ = seed_work
    env = dict(os.environ, CLOACINA_FUZZ_WORK=str(work))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", targets.ALL, str(work / "corpus" / "all"),
         f"-max_total_time={SECONDS}", f"-artifact_prefix={work}/all-", "-print_final_stats=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=SECONDS * 10 + 120)
    artifacts = sorted(str(p) for p in work.glob("all-*"))
    assert proc.returncode == 0 and "stat::number_of_executed_units" in proc.stderr, \
        (proc.returncode, artifacts, proc.stderr[-3000:])
