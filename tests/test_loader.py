"""The runtime loader: verify first, cache, isolation, drift, concurrency, tampering."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
from pathlib import Path

import pytest

from cloacina_build.errors import PackageError
from cloacina_build.ops.signing import sign_package
from cloacina_build.runtime.loader import DriftError, load_package
from cloacina_build.testing import run_loaded
from cloacina_build.trust.keys import generate, load_signing_key
from cloacina_build.trust.policy import TrustPolicy
from cloacina_build.trust.store import load_trust

from .hostile import read_members, replace, write_members
from .workflows import build

VERSIONED = '''
import cloaca

VALUE = "{value}"

@cloaca.task(id="report")
def report(ctx):
    ctx.set("value", VALUE)
    return ctx
'''

MARKING = '''
import os
import cloaca

open(os.environ["CLOACINA_TEST_MARKER"], "w").close()  # proves the module was imported

@cloaca.task(id="t")
def t(ctx):
    return ctx
'''


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def test_load_and_run_the_example(built_pipeline, cache):
    with load_package(built_pipeline, cache_dir=cache) as loaded:
        assert loaded.warm is False
        assert sorted(loaded.registry.tasks) == ["collect_data", "generate_report",
                                                 "process_data"]
        result = run_loaded(loaded)
        assert result.status == "completed"
        assert result.context["final_report"]["success_rate"] == "95%"
    entry = cache / loaded.digest
    assert (entry / "site" / "data_pipeline" / "tasks.py").is_file()
    assert json.loads((entry / "entry.json").read_text())["package"] == "data-pipeline"
    again = load_package(built_pipeline, cache_dir=cache)
    assert again.warm is True and again.rebuilt is False
    assert again.function("collect_data") is not loaded.function("collect_data")


def test_no_user_code_runs_before_validation(tmp_path, cache, monkeypatch):
    marker = tmp_path / "imported"
    monkeypatch.setenv("CLOACINA_TEST_MARKER", str(marker))
    pkg = build(tmp_path / "marking", MARKING, tmp_path)
    members = read_members(pkg)
    name = next(n for n, _ in members if n.startswith("payload/"))
    data = bytearray(dict(members)[name])
    data[len(data) // 2] ^= 0xFF
    write_members(pkg, replace(members, name, bytes(data)))
    with pytest.raises(PackageError) as info:
        load_package(pkg, cache_dir=cache)
    assert info.value.code == "load-refused"
    assert "digest-mismatch" in [f.code for f in info.value.findings]
    assert not marker.exists() and not (cache / "entry.json").exists()


def test_unverified_package_is_refused_under_a_trust_policy(tmp_path, cache, monkeypatch):
    marker = tmp_path / "imported"
    monkeypatch.setenv("CLOACINA_TEST_MARKER", str(marker))
    pkg = build(tmp_path / "marking", MARKING, tmp_path)
    _, _, _ = generate("ops", tmp_path / "keys")
    with pytest.raises(PackageError) as info:
        load_package(pkg, trust=TrustPolicy(trust=load_trust(tmp_path / "keys")),
                     cache_dir=cache)
    assert [f.code for f in info.value.findings] == ["signature-missing"]
    assert not marker.exists()


def test_trust_is_judged_again_on_a_warm_load(tmp_path, cache, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    private, public, key_id = generate("ops", tmp_path / "keys")
    sign_package(pkg, load_signing_key(str(private)))
    trust = TrustPolicy(trust=load_trust(tmp_path / "keys"))
    assert load_package(pkg, trust=trust, cache_dir=cache).verified_by == ["ops"]
    warm = load_package(pkg, trust=trust, cache_dir=cache)
    assert warm.warm and warm.verified_by == ["ops"]
    revoked = tmp_path / "trust.toml"
    revoked.write_text(f'[[keys]]\nname = "ops"\npath = "{public}"\nrevoked = true\n')
    with pytest.raises(PackageError) as info:
        load_package(pkg, trust=TrustPolicy(trust=load_trust(revoked)), cache_dir=cache)
    assert "signature-key-revoked" in [f.code for f in info.value.findings]


def test_two_versions_with_a_tasks_module_load_side_by_side(tmp_path, cache):
    pkgs = []
    for version, value in (("1.0.0", "one"), ("2.0.0", "two")):
        root = tmp_path / f"v{version}"
        pkgs.append(build(root, VERSIONED.format(value=value), tmp_path, version=version))
    first, second = (load_package(p, cache_dir=cache) for p in pkgs)
    assert first.module("wf_test.tasks").VALUE == "one"
    assert second.module("wf_test.tasks").VALUE == "two"
    assert run_loaded(first).context == {"value": "one"}
    assert run_loaded(second).context == {"value": "two"}
    assert first.module("wf_test.tasks") is not second.module("wf_test.tasks")
    assert not [m for m in sys.modules if m.startswith("wf_test")]


def test_two_packages_with_a_top_level_tasks_module(tmp_path, cache):
    loaded = []
    for name, value in (("alpha", "a"), ("beta", "b")):
        root = tmp_path / name
        root.mkdir()
        (root / "package.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "1.0"\n'
            '[metadata]\nentry_module = "tasks"\n')
        (root / "workflow").mkdir()
        (root / "workflow" / "helpers.py").write_text(f'WHO = "{value}"\n')
        (root / "workflow" / "tasks.py").write_text(
            "import cloaca\nimport helpers\n\n@cloaca.task(id='who')\n"
            "def who(ctx):\n    ctx.set('who', helpers.WHO)\n    return ctx\n")
        from cloacina_build.build.builder import build_package

        pkg = build_package(root, tmp_path / f"{name}.cloacina").path
        loaded.append(load_package(pkg, cache_dir=cache))
    assert [run_loaded(p).context["who"] for p in loaded] == ["a", "b"]
    assert "tasks" not in sys.modules and "helpers" not in sys.modules


def test_tampered_cache_entry_is_detected_and_rebuilt(built_pipeline, cache):
    first = load_package(built_pipeline, cache_dir=cache)
    tasks = cache / first.digest / "site" / "data_pipeline" / "tasks.py"
    original = tasks.read_text()
    tasks.write_text(original.replace('"95%"', '"100%"'))
    again = load_package(built_pipeline, cache_dir=cache)
    assert again.warm is False and again.rebuilt is True
    assert tasks.read_text() == original
    assert run_loaded(again).context["final_report"]["success_rate"] == "95%"
    (tasks.parent / "extra.py").write_text("x = 1\n")
    assert load_package(built_pipeline, cache_dir=cache).rebuilt is True
    assert not (tasks.parent / "extra.py").exists()


def _load_in_child(args):
    pkg, cache = args
    from cloacina_build.runtime.loader import load_package as load
    from cloacina_build.testing import run_loaded as run

    loaded = load(pkg, cache_dir=cache)
    return run(loaded).context["final_report"]["success_rate"]


def test_concurrent_loads_from_several_processes(built_pipeline, cache):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_load_in_child, [(str(built_pipeline), str(cache))] * 8)
    assert results == ["95%"] * 8
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    assert not [p for p in cache.iterdir() if p.name.startswith((".build-", ".trash-"))]
    assert load_package(built_pipeline, cache_dir=cache).warm is True


def test_drift_between_code_and_manifest_refuses_the_load(tmp_path, cache, monkeypatch):
    pkg = build(tmp_path / "drifting", '''
        import os
        import cloaca

        @cloaca.task(id="always")
        def always(ctx):
            return ctx

        if not os.environ.get("CLOACINA_TEST_SKIP_TASK"):
            @cloaca.task(id="sometimes")
            def sometimes(ctx):
                return ctx
    ''', tmp_path)
    assert load_package(pkg, cache_dir=cache)
    monkeypatch.setenv("CLOACINA_TEST_SKIP_TASK", "1")
    with pytest.raises(DriftError) as info:
        load_package(pkg, cache_dir=cache)
    assert [f.message for f in info.value.findings] == [
        "task 'sometimes' is in the manifest but was not registered when the package was "
        "imported"]


def test_import_failure_is_reported(tmp_path, cache):
    pkg = build(tmp_path / "broken", '''
        import cloaca
        import a_module_that_does_not_exist

        @cloaca.task(id="t")
        def t(ctx):
            return ctx
    ''', tmp_path)
    with pytest.raises(PackageError, match="No module named 'a_module_that_does_not_exist'"):
        load_package(pkg, cache_dir=cache)


def test_unload_forgets_modules(built_pipeline, cache):
    loaded = load_package(built_pipeline, cache_dir=cache)
    module = loaded.module("data_pipeline.tasks")
    loaded.unload()
    assert loaded.importer.modules == {} and module.__dict__ == {}
    assert loaded.registry.tasks == {}


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from cloacina_build.fsutil import default_cache_dir

    monkeypatch.setenv("CLOACINA_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CLOACINA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "cloacina" / "packages"
    assert os.environ.get("CLOACINA_CACHE_DIR") is None


# --- the warm cache serves only a file with the identity of one it verified ---------------

def _damage_payload(src: Path, dst: Path) -> None:
    """Write ``src`` to ``dst`` with one byte of the payload frame flipped: the head (and so
    the manifest digest) is unchanged, the payload no longer matches it."""
    from cloacina_build.format.package import open_package

    frame = open_package(src).frames[1]
    data = bytearray(src.read_bytes())
    data[frame.offset + frame.length // 2] ^= 0xFF
    dst.write_bytes(bytes(data))


def _no_verification(monkeypatch):
    import cloacina_build.runtime.loader as loader

    def refuse(*args, **kwargs):
        raise AssertionError("a warm load read the package again")

    monkeypatch.setattr(loader, "validate_package", refuse)
    monkeypatch.setattr(loader, "verify_package", refuse)


def test_a_warm_load_does_not_read_the_payload_again(pipeline_pkg, cache, monkeypatch):
    from cloacina_build.fsutil import file_identity

    cold = load_package(pipeline_pkg, cache_dir=cache)
    assert cold.warm is False
    meta = json.loads((cache / cold.digest / "entry.json").read_text())
    assert meta["sources"] == [file_identity(pipeline_pkg)]
    _no_verification(monkeypatch)
    warm = load_package(pipeline_pkg, cache_dir=cache)
    assert warm.warm is True and warm.rebuilt is False


def test_a_damaged_copy_with_the_same_manifest_is_not_served_warm(pipeline_pkg, cache,
                                                                 tmp_path):
    from cloacina_build.ops.validate import validate_package

    good = load_package(pipeline_pkg, cache_dir=cache)
    damaged = tmp_path / "elsewhere" / "copy.cloacina"
    damaged.parent.mkdir()
    _damage_payload(pipeline_pkg, damaged)
    assert not validate_package(damaged).ok
    with pytest.raises(PackageError) as info:
        load_package(damaged, cache_dir=cache)
    assert info.value.code == "load-refused" and info.value.findings
    # the good file and its entry are untouched: still warm
    assert load_package(pipeline_pkg, cache_dir=cache).warm is True
    assert good.digest in os.listdir(cache)


def test_a_file_rewritten_in_place_is_verified_again(pipeline_pkg, cache, tmp_path):
    """Same path, same size, same inode, mtime set back: only the ctime tells, and it is
    part of the identity, so the load is cold and refuses the damaged bytes."""
    load_package(pipeline_pkg, cache_dir=cache)
    before = os.stat(pipeline_pkg)
    damaged = tmp_path / "damaged.bin"
    _damage_payload(pipeline_pkg, damaged)
    with open(pipeline_pkg, "r+b") as fh:  # in place: the inode stays
        fh.write(damaged.read_bytes())
    os.utime(pipeline_pkg, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(pipeline_pkg)
    assert (after.st_size, after.st_ino, after.st_dev, after.st_mtime_ns) == \
        (before.st_size, before.st_ino, before.st_dev, before.st_mtime_ns)
    with pytest.raises(PackageError) as info:
        load_package(pipeline_pkg, cache_dir=cache)
    assert info.value.code == "load-refused"


def test_a_second_verified_copy_is_remembered_too(pipeline_pkg, cache, tmp_path):
    copy = tmp_path / "copy.cloacina"
    shutil.copyfile(pipeline_pkg, copy)
    assert load_package(pipeline_pkg, cache_dir=cache).warm is False
    assert load_package(copy, cache_dir=cache).warm is False  # another file: verified
    assert load_package(copy, cache_dir=cache).warm is True
    assert load_package(pipeline_pkg, cache_dir=cache).warm is True
