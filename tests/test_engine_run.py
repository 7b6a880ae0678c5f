"""run and load_package on engine archives (issue 10): validated with the engine's rules,
unpacked into the cache, imported the way the engine's Python loader imports them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.errors import CloacinaError, PackageError
from cloacina_build.runtime import engine_loader
from cloacina_build.runtime.loader import load_package
from cloacina_build.testing import run_loaded

from . import engine_tools as et
from .conftest import EXAMPLES

EXE = str(Path(sys.executable).with_name("cloacinactl"))

TASKS = '''\
import textwrap

import cloaca
import vendmod
from vend_demo.helpers import double


@cloaca.task(id="eager", dependencies=[])
def eager(context):
    context.set("eager", vendmod.greet("eu"))
    context.set("host_textwrap", not hasattr(textwrap, "VENDORED"))
    return context


@cloaca.task(id="lazy", dependencies=["eager"])
def lazy(context):
    import lazymod

    context.set("lazy", lazymod.VALUE + double(1))
    return context
'''

PACKAGE_TOML = '''\
[package]
name = "vend-demo"
version = "{version}"
interface = "cloacina-workflow-plugin"
interface_version = 1
extension = "cloacina"

[metadata]
workflow_name = "vend_demo"
'''


def vend_project(root: Path, version: str = "1.0.0") -> Path:
    """A project with vendored modules: one imported at module load, one inside a task body,
    and a vendored copy of a stdlib module (textwrap) that the host's must win over."""
    files = {
        "package.toml": PACKAGE_TOML.format(version=version),
        "workflow/vend_demo/__init__.py": "",
        "workflow/vend_demo/tasks.py": TASKS,
        "workflow/vend_demo/helpers.py": "def double(x):\n    return 2 * x\n",
        "vendor/vendmod.py": "def greet(who):\n    return 'hello ' + who\n",
        "vendor/lazymod/__init__.py": "VALUE = 40\n",
        "vendor/textwrap.py": "VENDORED = True\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def engine_build(project: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(build_package(project, out_dir, format="engine").path)


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def unpacks(monkeypatch) -> list[Path]:
    """Every cold unpack, recorded (the warm path must not unpack)."""
    calls: list[Path] = []
    real = engine_loader.unpack_source

    def counting(path, dest, archive, limits):
        calls.append(Path(path))
        return real(path, dest, archive, limits)

    monkeypatch.setattr(engine_loader, "unpack_source", counting)
    return calls


def ctl(*args, env=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def outside(tmp_path: Path, cache: Path) -> list[str]:
    """Every path under tmp_path that is not the cache or an input archive."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if cache not in (p, *p.parents) and p.suffix != ".cloacina"
                  and p.name != "out")


# --------------------------------------------------------------------- the example

def test_the_example_runs_cold_then_warm(tmp_path, cache, unpacks):
    pkg = engine_build(EXAMPLES / "data-pipeline", tmp_path / "out")
    with load_package(pkg, cache_dir=cache) as cold:
        assert (cold.name, cold.version, cold.warm) == ("data-pipeline", "1.0.0", False)
        assert sorted(cold.registry.tasks) == ["collect_data", "generate_report",
                                               "process_data"]
        assert cold.manifest is not None and cold.manifest.payload.kind == "source"
        result = run_loaded(cold)
        assert result.status == "completed"
        assert result.context["final_report"]["success_rate"] == "95%"
    assert len(unpacks) == 1
    entry = cache / cold.digest
    with tarfile.open(pkg) as tf:  # the key names the build manifest the archive carries
        member = tf.extractfile("data-pipeline-1.0.0/.cloacina-build/manifest.json")
        assert member is not None
        manifest = member.read()
    assert cold.digest == "engine-m-" + hashlib.sha256(manifest).hexdigest() and entry.is_dir()
    meta = json.loads((entry / "entry.json").read_text())
    assert meta["layout"] == "engine" and meta["package"] == "data-pipeline"
    assert sorted(meta["files"]) == ["manifest.json", "package.toml",
                                     "workflow/data_pipeline/__init__.py",
                                     "workflow/data_pipeline/tasks.py"]
    with load_package(pkg, cache_dir=cache) as warm:
        assert warm.warm is True and warm.digest == cold.digest
        assert warm.workflow == cold.workflow
        assert run_loaded(warm).status == "completed"
    assert len(unpacks) == 1, "a warm load must not unpack the archive again"
    for path in entry.rglob("*"):  # modes 0644 / 0755 only, no links
        assert not path.is_symlink()
        if path.name != "entry.json" and path.parent != entry or path.is_dir():
            assert path.stat().st_mode & 0o777 in (0o644, 0o755), path


def test_a_changed_file_after_a_warm_load_takes_the_cold_path(tmp_path, cache, unpacks):
    pkg = engine_build(EXAMPLES / "data-pipeline", tmp_path / "out")
    load_package(pkg, cache_dir=cache).unload()
    load_package(pkg, cache_dir=cache).unload()
    assert len(unpacks) == 1
    pkg.write_bytes(pkg.read_bytes())  # the same bytes, rewritten: the ctime changes
    with load_package(pkg, cache_dir=cache) as again:
        assert again.warm is False
    assert len(unpacks) == 2
    copy = tmp_path / "copy.cloacina"  # a copy is another file: cold, then warm
    shutil.copyfile(pkg, copy)
    assert load_package(copy, cache_dir=cache).warm is False
    assert load_package(copy, cache_dir=cache).warm is True
    assert load_package(pkg, cache_dir=cache).warm is True  # the first file is still known
    assert len(unpacks) == 3


def test_a_damaged_copy_is_refused_and_the_entry_stays(tmp_path, cache):
    pkg = engine_build(EXAMPLES / "data-pipeline", tmp_path / "out")
    load_package(pkg, cache_dir=cache).unload()
    data = bytearray(pkg.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.cloacina"
    bad.write_bytes(bytes(data))
    with pytest.raises(PackageError) as caught:
        load_package(bad, cache_dir=cache)
    assert caught.value.code == "load-refused" and caught.value.hint
    assert load_package(pkg, cache_dir=cache).warm is True


# ------------------------------------------------------------- vendor/, the engine's way

def test_vendored_modules_eager_and_lazy_and_the_host_wins(tmp_path, cache):
    pkg = engine_build(vend_project(tmp_path / "p"), tmp_path / "out")
    for warm in (False, True):
        with load_package(pkg, cache_dir=cache) as loaded:
            assert loaded.warm is warm
            result = run_loaded(loaded)
            assert result.status == "completed", result.failed
            # the lazy import inside the task body works: the cache keeps the tree (the
            # engine deletes its staging directory after the import)
            assert result.context["eager"] == "hello eu" and result.context["lazy"] == 42
            # sys.path.append: the stdlib's textwrap wins over vendor/textwrap.py
            assert result.context["host_textwrap"] is True
            assert "textwrap" not in loaded.importer.own
            assert {"vend_demo", "vendmod", "lazymod"} <= loaded.importer.own
    assert "vendmod" not in sys.modules and "vend_demo" not in sys.modules


def test_two_engine_packages_with_the_same_module_names_stay_apart(tmp_path, cache):
    one = vend_project(tmp_path / "one", "1.0.0")
    two = vend_project(tmp_path / "two", "2.0.0")
    (two / "vendor/lazymod/__init__.py").write_text("VALUE = 1000\n")
    a = engine_build(one, tmp_path / "out1")
    b = engine_build(two, tmp_path / "out2")
    with load_package(a, cache_dir=cache) as first, load_package(b, cache_dir=cache) as second:
        assert run_loaded(first).context["lazy"] == 42
        assert run_loaded(second).context["lazy"] == 1002
        assert first.module("vend_demo.tasks") is not second.module("vend_demo.tasks")


# ------------------------------------------------------------- the engine's own archives

def test_the_engine_fixture_runs(tmp_path, cache):
    pkg = tmp_path / "python-workflow.cloacina"
    shutil.copyfile(et.FIXTURES / "python-workflow.cloacina", pkg)
    with load_package(pkg, cache_dir=cache) as loaded:
        # no .cloacina-build/manifest.json: keyed by the file's sha256
        assert loaded.digest == "engine-f-" + hashlib.sha256(pkg.read_bytes()).hexdigest()
        assert loaded.manifest is None
        assert [t.id for t in loaded.tasks] == ["fixture-task1"]  # ids with '-' are fine
        result = run_loaded(loaded)
    assert result.status == "completed" and result.context == {"fixture_ran": True}
    assert load_package(pkg, cache_dir=cache).warm is True


def test_a_rust_engine_archive_is_refused_clearly(tmp_path, cache):
    pkg = tmp_path / "rust-workflow.cloacina"
    shutil.copyfile(et.FIXTURES / "rust-workflow.cloacina", pkg)
    with pytest.raises(PackageError) as caught:
        load_package(pkg, cache_dir=cache)
    assert caught.value.code == "load-native" and caught.value.hint
    assert "Rust" in caught.value.message and "compiles" in caught.value.message
    assert not [p for p in cache.iterdir() if not p.name.endswith(".lock")]


def test_under_a_trust_policy_only_a_signed_engine_archive_runs(tmp_path, cache,
                                                                monkeypatch):
    """The signatures in the second stream are judged before anything is unpacked: the
    unsigned archive is refused and leaves the cache empty; signed by a trusted key, it
    loads and runs."""
    from cloacina_build.ops.signing import sign_package
    from cloacina_build.trust.keys import generate, load_signing_key
    from cloacina_build.trust.policy import TrustPolicy
    from cloacina_build.trust.store import load_trust

    generate("ops", tmp_path / "keys")
    policy = TrustPolicy(trust=load_trust(tmp_path / "keys"))
    pkg = engine_build(EXAMPLES / "data-pipeline", tmp_path / "out")
    with pytest.raises(PackageError) as caught:
        load_package(pkg, trust=policy, cache_dir=cache)
    assert caught.value.code == "load-refused" and caught.value.hint
    assert "signature-missing" in [f.code for f in caught.value.findings]
    assert not cache.exists() or not any(cache.iterdir())
    sign_package(pkg, load_signing_key(str(tmp_path / "keys" / "ops.key")))
    from cloacina_build.model import Manifest

    parsed, parse = [], Manifest.parse.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(Manifest, "parse", classmethod(
        lambda cls, data: parsed.append(1) or parse(cls, data)))
    with load_package(pkg, trust=policy, cache_dir=cache) as loaded:
        assert loaded.verified_by and [t.id for t in loaded.workflow.tasks] == [
            "collect_data", "generate_report", "process_data"]
    assert len(parsed) == 1  # validation, signatures and the loader share one parse


# -------------------------------------------------------------------------- hostile

GOOD = et.files_entries(et.project_files(), "etl-demo-1.0.0")


@pytest.mark.parametrize("name,members,code", [
    ("stdlib-shadow", [et.entry("etl-demo-1.0.0/workflow/json.py", b"x = 1\n")],
     "engine-stdlib-shadow"),
    ("vendor-shadow", [et.entry("etl-demo-1.0.0/vendor/os/__init__.py", b"")],
     "engine-stdlib-shadow"),
    ("traversal", [et.entry("etl-demo-1.0.0/workflow/../../../evil.py", b"x")],
     "engine-path-parent"),
    ("absolute", [et.entry("/tmp/evil.py", b"x")], "engine-path-absolute"),
    ("symlink", [et.entry("etl-demo-1.0.0/workflow/l.py", kind=tarfile.SYMTYPE,
                          link="/etc/passwd")], "engine-symlink"),
])
def test_hostile_archives_are_refused_and_nothing_is_written(tmp_path, cache, name, members,
                                                             code):
    pkg = tmp_path / f"{name}.cloacina"
    pkg.write_bytes(et.engine_archive(GOOD + members))
    with pytest.raises(PackageError) as caught:
        load_package(pkg, cache_dir=cache)
    assert caught.value.code == "load-refused" and caught.value.hint
    assert code in {f.code for f in caught.value.findings}
    assert outside(tmp_path, cache) == []
    assert not [p for p in cache.iterdir() if not p.name.endswith(".lock")]


def test_the_good_archive_of_the_hostile_tests_runs(tmp_path, cache):
    pkg = tmp_path / "good.cloacina"
    pkg.write_bytes(et.engine_archive(GOOD))
    with load_package(pkg, cache_dir=cache) as loaded:
        result = run_loaded(loaded)
    assert result.status == "completed", result.failed
    assert result.context["rows"] == [1, 2, 3]


def test_a_file_swapped_after_validation_is_not_unpacked(tmp_path):
    """The unpacker checks every member against the validated pass: a file swapped for a
    hostile one between the two reads writes nothing outside its destination."""
    from cloacina_build.format.engine import DEFAULT_ENGINE_LIMITS, open_engine
    from cloacina_build.runtime.engine_unpack import unpack_source

    good = tmp_path / "good.cloacina"
    good.write_bytes(et.engine_archive(GOOD))
    archive = open_engine(good)
    swaps = {
        "changed": GOOD[:-1] + [et.entry(GOOD[-1][0].name, b"import os\n")],
        "traversal": GOOD + [et.entry("etl-demo-1.0.0/workflow/../../x.py", b"x")],
        "symlink": [et.entry("etl-demo-1.0.0/workflow/etl_demo", kind=tarfile.SYMTYPE,
                             link=str(tmp_path))] + GOOD,
        "missing": GOOD[:-1],
    }
    for name, members in swaps.items():
        bad = tmp_path / f"{name}.cloacina"
        bad.write_bytes(et.engine_archive(members))
        dest = tmp_path / f"dest-{name}"
        dest.mkdir()
        with pytest.raises(CloacinaError) as caught:
            unpack_source(bad, dest, archive, DEFAULT_ENGINE_LIMITS)
        assert caught.value.code == "load-refused" and caught.value.hint, name
        assert not any(p.is_symlink() for p in dest.rglob("*"))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("dest-")) == \
        sorted(["good.cloacina"] + [f"{n}.cloacina" for n in swaps])


# ---------------------------------------------------------------------- the command

def test_cloacinactl_run_takes_engine_archives(tmp_path):
    pkg = engine_build(vend_project(tmp_path / "p"), tmp_path / "out")
    env = {"CLOACINA_CACHE_DIR": str(tmp_path / "cache")}
    proc = ctl("run", pkg, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "warning: no --trust given" in proc.stderr and "eager" in proc.stdout
    proc = ctl("run", pkg, "--json", env=env)  # warm
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and data["status"] == "completed"
    assert sorted(data) == ["attempts", "context", "failures", "ok", "skipped", "status",
                            "tasks", "timings", "workflow"] and data["ok"] is True
    assert data["context"]["lazy"] == 42 and data["tasks"] == {"eager": "completed",
                                                               "lazy": "completed"}
    (tmp_path / "keys").mkdir()
    from cloacina_build.trust.keys import generate

    generate("ops", tmp_path / "keys")
    proc = ctl("run", pkg, "--trust", tmp_path / "keys", env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "hint:" in proc.stderr
    rust = ctl("run", et.FIXTURES / "rust-workflow.cloacina", env=env)
    assert rust.returncode == 1 and "Rust engine archive" in rust.stderr


def test_a_package_that_registers_no_task_at_import_is_an_empty_package(tmp_path, cache):
    """Static discovery sees the task; the import registers none (its decorator runs only
    under a condition): the engine's loader says "Empty package", and so do we."""
    project = tmp_path / "p"
    (project / "workflow/emp").mkdir(parents=True)
    (project / "package.toml").write_text('[package]\nname = "emp"\nversion = "1.0.0"\n\n'
                                          '[metadata]\nworkflow_name = "emp"\n')
    (project / "workflow/emp/__init__.py").write_text("")
    (project / "workflow/emp/tasks.py").write_text(
        "import os\nimport cloaca\n\nif os.environ.get('CLOACINA_TEST_NEVER_SET'):\n"
        "    @cloaca.task(id='t')\n    def t(ctx):\n        return ctx\n")
    pkg = engine_build(project, tmp_path / "out")
    with pytest.raises(PackageError) as caught:
        load_package(pkg, cache_dir=cache)
    assert caught.value.code == "engine-no-tasks" and "Empty package" in caught.value.message
    assert caught.value.hint
