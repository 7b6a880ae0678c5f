"""Regressions for problems a code review found and reproduced; one test per problem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cloacina_build.errors import PackageError
from cloacina_build.model import Backoff, Retry
from cloacina_build.ops.signing import sign_detached, sign_package
from cloacina_build.ops.validate import verify_package
from cloacina_build.runtime.isolation import PackageImporter
from cloacina_build.runtime.loader import load_package
from cloacina_build.runtime.runner import retry_delay
from cloacina_build.trust.keys import KeyError_, generate, load_signing_key
from cloacina_build.trust.policy import TrustPolicy
from cloacina_build.trust.store import load_trust

from .hostile import edit_manifest, read_members, write_members
from .workflows import write_project

EXE = str(Path(sys.executable).with_name("cloacinactl"))


def test_key_text_given_as_a_path_is_not_echoed(tmp_path):
    private, _, _ = generate("k", tmp_path)
    pem = private.read_text()
    with pytest.raises(KeyError_) as info:
        load_signing_key(pem)
    assert pem.splitlines()[1] not in info.value.diagnostics()
    assert "looks like key text" in info.value.message


def test_a_file_swapped_during_a_cold_load_is_refused(tmp_path, built_pipeline, built_etl,
                                                      monkeypatch):
    import cloacina_build.runtime.loader as loader

    real_open = loader.open_package
    monkeypatch.setattr(loader, "open_package", lambda path, limits: real_open(built_etl,
                                                                               limits))
    with pytest.raises(PackageError, match="changed while it was being loaded"):
        load_package(built_pipeline, cache_dir=tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]


def test_run_honours_a_revoked_sidecar_like_verify(tmp_path, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    good, good_pub, _ = generate("good", tmp_path / "k")
    bad, bad_pub, _ = generate("bad", tmp_path / "k")
    sign_package(pkg, load_signing_key(str(good)))
    sign_detached(pkg, load_signing_key(str(bad)))
    trust = tmp_path / "trust.toml"
    trust.write_text(f'[[keys]]\nname = "good"\npath = "{good_pub}"\n'
                     f'[[keys]]\nname = "bad"\npath = "{bad_pub}"\nrevoked = true\n')
    env = {**os.environ, "CLOACINA_CACHE_DIR": str(tmp_path / "cache")}
    for command in ("verify", "run"):
        proc = subprocess.run([EXE, command, str(pkg), "--trust", str(trust)], env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert "signature-key-revoked" in proc.stdout + proc.stderr


def test_tasks_that_exit_or_interrupt_fail_cleanly(tmp_path):
    from cloacina_build.testing import run_workflow

    project = write_project(tmp_path / "p", '''
        import sys
        import cloaca

        @cloaca.task(id="exits")
        def exits(ctx):
            sys.exit(3)

        @cloaca.task(id="interrupts")
        async def interrupts(ctx):
            raise KeyboardInterrupt

        @cloaca.task(id="after", dependencies=["exits"])
        def after(ctx):
            return ctx
    ''')
    result = run_workflow(project, sleep=lambda s: None)
    assert result.status == "failed"
    assert {t: o.status for t, o in result.tasks.items()} == {
        "exits": "failed", "interrupts": "failed", "after": "not_run"}
    assert result.tasks["exits"].error == "SystemExit: 3"
    assert result.tasks["interrupts"].error.startswith("KeyboardInterrupt")


def test_circular_from_imports_inside_a_package(tmp_path, monkeypatch):
    root = tmp_path / "site"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text("from pkg import b\nNAME = 'a'\n")
    (root / "pkg" / "b.py").write_text("from pkg import a\nNAME = 'b'\n"
                                       "def partner():\n    return a.NAME\n")
    import types

    host = types.ModuleType("pkg.a")
    host.NAME = "HOST"
    monkeypatch.setitem(sys.modules, "pkg.a", host)
    importer = PackageImporter([root])
    b = importer.import_module("pkg.b")
    assert b.partner() == "a"


def test_a_failing_submodule_import_names_the_real_cause(tmp_path):
    root = tmp_path / "site"
    (root / "p").mkdir(parents=True)
    (root / "p" / "__init__.py").write_text("")
    (root / "p" / "sub.py").write_text("import not_installed_dep_xyz\n")
    (root / "p" / "main.py").write_text("from p import sub\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_dep_xyz"):
        PackageImporter([root]).import_module("p.main")


@pytest.mark.parametrize("damage", ["symlinked-directory", "empty-directory",
                                    "entry-json-not-an-object"])
def test_cache_damage_is_detected_and_rebuilt(tmp_path, built_pipeline, damage):
    cache = tmp_path / "cache"
    first = load_package(built_pipeline, cache_dir=cache)
    entry = cache / first.digest
    if damage == "symlinked-directory":
        (tmp_path / "evil").mkdir()
        (tmp_path / "evil" / "__init__.py").write_text("raise SystemExit('attacker')\n")
        (entry / "site" / "json").symlink_to(tmp_path / "evil")
    elif damage == "empty-directory":
        (entry / "site" / "shadow").mkdir()
    else:
        (entry / "entry.json").write_text("[]")
    again = load_package(built_pipeline, cache_dir=cache)
    assert again.rebuilt is True and again.warm is False
    assert not (entry / "site" / "json").exists() and not (entry / "site" / "shadow").exists()


def test_warm_load_checks_the_trailer_too(tmp_path, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    private, _, _ = generate("ops", tmp_path / "keys")
    sign_package(pkg, load_signing_key(str(private)))
    trust = TrustPolicy(trust=load_trust(tmp_path / "keys"))
    load_package(pkg, trust=trust, cache_dir=tmp_path / "cache")
    from cloacina_build.format.archive import write_trailer
    from cloacina_build.format.package import open_package

    head = open_package(pkg)
    (name, data), = head.signature_members
    prefix = pkg.read_bytes()[: head.frames[-1].offset]
    with open(pkg, "wb") as fh:
        fh.write(prefix)
        write_trailer(fh, [(name, json.dumps(json.loads(data)).encode())], 315532800)
    assert [f.code for f in verify_package(pkg, trust).errors] == ["signature-trailer"]
    with pytest.raises(PackageError) as info:
        load_package(pkg, trust=trust, cache_dir=tmp_path / "cache")
    assert "signature-trailer" in [f.code for f in info.value.findings]


def test_a_manifest_without_payload_is_refused_cleanly(tmp_path, built_pipeline):
    bad = write_members(tmp_path / "bad.cloacina", edit_manifest(
        read_members(built_pipeline), lambda m: m.pop("payload")))
    with pytest.raises(PackageError) as info:
        load_package(bad, cache_dir=tmp_path / "cache")
    assert info.value.code == "load-refused"


def test_a_detached_signature_by_a_revoked_id_is_an_error(tmp_path, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    good, good_pub, _ = generate("good", tmp_path / "k")
    gone, _, gone_id = generate("gone", tmp_path / "k")
    sign_package(pkg, load_signing_key(str(good)))
    sig = sign_detached(pkg, load_signing_key(str(gone)))
    trust = tmp_path / "trust.toml"
    trust.write_text(f'[[keys]]\nname = "good"\npath = "{good_pub}"\n'
                     f'[[revoked]]\nid = "{gone_id}"\n')
    report = verify_package(pkg, TrustPolicy(trust=load_trust(trust), detached=sig.path))
    assert [f.code for f in report.errors] == ["signature-key-revoked"]


def test_detached_policy_loads_are_warm_the_second_time(tmp_path, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    private, _, _ = generate("ops", tmp_path / "keys")
    sig = sign_detached(pkg, load_signing_key(str(private)))
    policy = TrustPolicy(trust=load_trust(tmp_path / "keys"), detached=sig.path)
    assert load_package(pkg, trust=policy, cache_dir=tmp_path / "c").warm is False
    second = load_package(pkg, trust=policy, cache_dir=tmp_path / "c")
    assert second.warm is True and second.verified_by == ["ops"]


def test_jitter_never_exceeds_the_cap():
    import random

    retry = Retry(backoff=Backoff.EXPONENTIAL, delay_ms=1000, max_delay_ms=30000,
                  jitter=True)
    rng = random.Random(1)
    assert max(retry_delay(retry, 10, rng) for _ in range(200)) <= 30.0


def test_native_packages_are_not_run_by_the_python_loader(tmp_path):
    pytest.importorskip("elftools")
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    from cloacina_build.build.builder import build_package
    from cloacina_build.project.scaffold import create_project

    project = create_project("nat", template="rust", path=tmp_path / "nat")
    pkg = build_package(project, tmp_path / "nat.cloacina").path
    with pytest.raises(PackageError) as info:
        load_package(pkg, cache_dir=tmp_path / "cache")
    assert info.value.code == "load-native"
