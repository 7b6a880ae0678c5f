"""The wheel payload: stage a canonical project, run its PEP 517 backend offline (or in an
isolated environment), and name the backend for the manifest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import BuildError, ProjectError, UsageError
from ..project.config import CANONICAL, PEP621, Project
from .tree import project_files


def build_wheel(project: Project, tmp: Path, *, isolated: bool, epoch: int,
                processes: Callable[[subprocess.Popen[bytes]], None] | None = None
                ) -> tuple[Path, str]:
    """The wheel and the backend's name.  ``processes`` is told of every process the
    build starts (so a build running in the background can be stopped).

    Everything the backend writes stays in ``tmp``: its ``TMPDIR`` (``TEMP``, ``TMP``) is
    ``tmp/tmp`` (hatchling writes its wheel to a ``tmp*.whl`` there first), so the caller
    removes every temporary by removing ``tmp``, on any exit."""
    private = tmp / "tmp"
    private.mkdir()
    if project.layout == CANONICAL:
        srcdir = tmp / "src"
        _stage_canonical(project, srcdir)
    else:
        srcdir = project.root
    outdir = tmp / "wheel"
    outdir.mkdir()
    backend = _run_backend(srcdir, outdir, _Runner(epoch, private, processes),
                           isolated=isolated)
    wheels = sorted(outdir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"the build backend produced {len(wheels)} wheels, expected one")
    return wheels[0], backend


def builds_outside_the_project(project: Project, isolated: bool) -> bool:
    """Whether the wheel build writes nowhere but its temporary directory, so it may start
    before discovery has judged the project: the canonical layout (staged, hatchling) and
    PEP 621 projects built by hatchling, offline.  Other backends (setuptools writes
    ``build/`` into the project) wait for discovery."""
    if isolated or project.layout not in (CANONICAL, PEP621):
        return False
    return project.layout == CANONICAL or \
        project.build_system.get("build-backend") == "hatchling.build"


class BackgroundBuild:
    """``build_wheel`` on a thread (its work is a backend subprocess, so it runs beside
    discovery on another core); ``cancel`` stops the backend and waits for the thread."""

    def __init__(self, project: Project, tmp: Path, epoch: int) -> None:
        self._lock = threading.Lock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._cancelled = False
        self._outcome: tuple[Path, str] | BaseException | None = None
        # Waited on instead of Thread.join: a join interrupted by Ctrl-C can mark the thread
        # stopped while it runs (CPython bpo-45274's fix), and a second join then returns
        # at once, before the backend is reaped and its temporary directory removed.
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(project, tmp, epoch),
                                        name="cloacina-wheel-build", daemon=True)
        self._thread.start()

    def _run(self, project: Project, tmp: Path, epoch: int) -> None:
        try:
            self._outcome = build_wheel(project, tmp, isolated=False, epoch=epoch,
                                        processes=self._started)
        except BaseException as exc:  # handed to the caller by result()
            self._outcome = exc
        finally:
            self._done.set()

    def _started(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.append(process)
            if self._cancelled:
                process.kill()

    def result(self) -> tuple[Path, str]:
        self._done.wait()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            for process in self._processes:
                process.kill()
        self._done.wait()


class _Runner:
    """Runs the backend's hooks (``build``'s runner protocol): its output is kept for the
    error message, its temporaries go to ``tmpdir``, and a hook interrupted in this process
    (Ctrl-C, SIGTERM, a cancelled build) is killed and waited for, so it writes nothing
    after the caller has removed ``tmpdir``."""

    def __init__(self, epoch: int, tmpdir: Path,
                 processes: Callable[[subprocess.Popen[bytes]], None] | None) -> None:
        self.epoch, self.tmpdir, self.processes = epoch, tmpdir, processes
        self.output: list[str] = []

    def __call__(self, cmd, cwd=None, extra_environ=None) -> None:
        env = dict(os.environ)
        env.update(extra_environ or {})
        env["SOURCE_DATE_EPOCH"] = str(self.epoch)
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        for name in ("TMPDIR", "TEMP", "TMP"):
            env[name] = str(self.tmpdir)
        with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as proc:
            if self.processes is not None:
                self.processes(proc)
            try:
                stdout, _ = proc.communicate()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        self.output.append(stdout.decode("utf-8", "replace"))
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)


def _run_backend(srcdir: Path, outdir: Path, runner: _Runner, *, isolated: bool) -> str:
    import build
    import build.env

    output = runner.output
    try:
        if isolated:
            with build.env.DefaultIsolatedEnv() as env:
                builder = build.ProjectBuilder.from_isolated_env(env, srcdir, runner=runner)
                env.install(builder.build_system_requires)
                env.install(builder.get_requires_for_build("wheel"))
                builder.build("wheel", outdir)
        else:
            builder = build.ProjectBuilder(srcdir, python_executable=sys.executable,
                                           runner=runner)
            builder.build("wheel", outdir)
        return _backend_name(srcdir)
    except build.BuildBackendException as exc:
        missing = "BackendUnavailable" in type(exc.exception).__name__
        if missing:  # its text goes on with the import's traceback: the first line says it
            first = str(exc.exception).strip().splitlines()[:1] or ["(no message)"]
            raise UsageError(
                f"the build backend is not importable here: {first[0]}",
                hint="install the project's build requirements in this environment, or "
                     "pass --isolated to build in a fresh environment (needs network)",
                code="backend-unavailable") from None
        raise BuildError(f"the wheel build failed: {last_line(output)}",
                         hint="'python -m build --wheel' in the project shows the backend's "
                              "whole output") from None
    except build.BuildException as exc:
        raise BuildError(f"cannot build the wheel: {exc}") from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"installing build requirements failed: {exc}",
                         hint="--isolated needs access to a package index") from None


def last_line(output: list[str]) -> str:
    """What a failed backend said last (its exception, usually): one line for the error."""
    lines = [t.strip() for t in "".join(output).splitlines() if t.strip()]
    return lines[-1][:300] if lines else "the backend printed nothing"


def _backend_name(srcdir: Path) -> str:
    import tomlkit

    try:
        doc = tomlkit.parse((srcdir / "pyproject.toml").read_text("utf-8")).unwrap()
    except Exception:
        return "setuptools.build_meta:__legacy__"
    return str(doc.get("build-system", {}).get("build-backend",
                                               "setuptools.build_meta:__legacy__"))


def _stage_canonical(project: Project, dest: Path) -> None:
    """Copy workflow/ (and vendor/) to a staging tree with a generated pyproject.toml: the
    files build/tree.py picks for every payload (the engine format's source too)."""
    dest.mkdir()
    tops: list[str] = []
    for source in (project.source_root, project.vendor_dir):
        if source is None:
            continue
        files = project_files(source, project.root)
        for top in sorted({rel.split("/", 1)[0] for rel, _ in files}):
            if top in tops:
                raise ProjectError(f"'{top}' exists in both workflow/ and vendor/",
                                   hint="rename or remove one of them")
            tops.append(top)
        for rel, path in files:
            target = dest.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            os.chmod(target, 0o644)
    (dest / "pyproject.toml").write_text(_staging_pyproject(project, tops), "utf-8")


def _staging_pyproject(project: Project, tops: list[str]) -> str:
    import tomlkit

    meta = project.metadata
    doc = tomlkit.document()
    doc.add("build-system", {"requires": ["hatchling"], "build-backend": "hatchling.build"})
    proj: dict = {"name": project.name, "version": project.version}
    if meta.get("description"):
        proj["description"] = meta["description"]
    if meta.get("requires_python"):
        proj["requires-python"] = meta["requires_python"]
    if meta.get("author"):
        proj["authors"] = [{"name": meta["author"]}]
    doc.add("project", proj)
    doc.add("tool", {"hatch": {"build": {"targets": {"wheel": {"only-include": tops}}}}})
    return tomlkit.dumps(doc)
