"""``build_package``: a workflow project in, one reproducible ``.cloacina`` file out.

1. read the project; 2. discover tasks statically from its source and check the graph
(nothing is built or written when that fails); 3. build the wheel with the project's PEP 517
backend (hatchling for the canonical layout), offline, in the running environment unless
``isolated``; 4. rediscover from the wheel and insist it matches; 5. write the archive
atomically.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..format import archive
from ..format import manifest as mf
from ..project.discovery import Discovery, discover
from ..errors import BuildError, ProjectError, UsageError
from ..findings import has_errors
from ..model import Manifest
from ..fsutil import file_sha256
from ..project.graph import graph_findings
from ..project.config import CANONICAL, CARGO, Project, load_project
from ..project.sources import DiskTree
from ..format.wheel import comparable, discover_in_wheel, parse_name, same_name

log = logging.getLogger("cloacina_build")
_IGNORED = {"__pycache__", ".git", ".hg", ".svn", ".DS_Store", ".mypy_cache",
            ".pytest_cache", ".ruff_cache"}


@dataclass(frozen=True)
class BuildResult:
    path: Path
    manifest: dict
    digest: str
    size: int


def discover_project(project: Project) -> Discovery:
    """Static discovery over the project's own source, with the graph checked."""
    if project.layout == CARGO:
        from .native import discover_crate_project

        return discover_crate_project(project)
    tree = DiskTree(project.source_root, shown_from=project.root)
    found = discover(tree, project.entry_module, project.workflow_name)
    if not has_errors(found.findings):
        found.findings += graph_findings(found.tasks, project.workflow_name,
                                         display=tree.display)
    return found


@dataclass
class Payload:
    file: Path
    kind: str
    tags: list[str]
    version: str
    backend: str
    discovery: Discovery
    native: dict | None = None


def build_package(project_dir: Path | str, output: Path | str | None = None, *,
                  isolated: bool = False, native_lib: Path | str | None = None
                  ) -> BuildResult:
    project = load_project(Path(project_dir))
    _output_path(project, project.version or "0", output)  # a bad -o fails before the build
    if native_lib is not None and project.layout != CARGO:
        raise UsageError("--native-lib packages a Rust workflow crate's library; "
                         f"{project.root.name} is a Python project")
    found = discover_project(project)
    if has_errors(found.findings):
        raise ProjectError(f"workflow '{project.workflow_name}' has problems; nothing was "
                           "built", code="workflow", findings=found.findings,
                           hint="fix the places named above and package again")
    epoch = archive.source_date_epoch()
    with tempfile.TemporaryDirectory(prefix="cloacina-build-") as tmp:
        if project.layout == CARGO:
            from .native import native_payload

            payload = native_payload(project, found, Path(tmp), native_lib)
        else:
            payload = _wheel_payload(project, found, Path(tmp), isolated, epoch)
        return _write_package(project, payload, output, epoch)


def _wheel_payload(project: Project, found: Discovery, tmp: Path, isolated: bool,
                   epoch: int) -> Payload:
    wheel_path, backend = build_wheel(project, tmp, isolated=isolated, epoch=epoch)
    wheel = parse_name(wheel_path.name)
    if not same_name(wheel.name, project.name):
        raise BuildError(f"the backend built a wheel for '{wheel.name}', not "
                         f"'{project.name}'")
    with zipfile.ZipFile(wheel_path) as zf:
        in_wheel = discover_in_wheel(zf, project.entry_module, project.workflow_name)
    _check_wheel_discovery(project, found, in_wheel)
    return Payload(wheel_path, "wheel", wheel.tags, project.version or wheel.version, backend,
                   in_wheel)


def _write_package(project: Project, payload: Payload, output, epoch: int) -> BuildResult:
    version = payload.version
    package_toml = render_package_toml(project, version)
    size = payload.file.stat().st_size
    payload_sha = file_sha256(payload.file)
    payload_path = mf.PAYLOAD_DIR + payload.file.name
    record = {"kind": payload.kind, "path": payload_path, "filename": payload.file.name,
              "size": size, "sha256": payload_sha, "tags": payload.tags}
    members = [
        {"path": mf.PACKAGE_TOML, "size": len(package_toml),
         "sha256": mf.digest(package_toml)},
        {"path": payload_path, "size": size, "sha256": payload_sha},
    ]
    revision, dirty = git_provenance(project.root)
    manifest = mf.build_manifest(
        project_meta=project.metadata, name=project.name, version=version,
        discovery=payload.discovery, payload=record, members=members,
        backend=payload.backend, source_revision=revision, source_dirty=dirty, epoch=epoch,
        native=payload.native)
    manifest_bytes = mf.dumps(manifest)
    out = _output_path(project, version, output)
    with archive.atomic_output(out) as fh:
        archive.write_head(fh, [(mf.PACKAGE_TOML, package_toml),
                                (mf.MANIFEST, manifest_bytes)], epoch)
        written = archive.write_payload(fh, payload_path, payload.file, size, epoch)
        if written != payload_sha:
            raise BuildError("the payload changed while it was being packaged")
        archive.write_trailer(fh, [], epoch)
    return BuildResult(out, Manifest.from_json(manifest_bytes), mf.digest(manifest_bytes),
                       out.stat().st_size)


def _check_wheel_discovery(project: Project, source: Discovery, wheel: Discovery) -> None:
    if has_errors(wheel.findings) or project.entry_module not in wheel.modules:
        raise BuildError(f"the built wheel does not contain entry module "
                         f"'{project.entry_module}' in readable form",
                         findings=wheel.findings,
                         hint="check which packages your build backend puts in the wheel")
    if comparable(source.tasks) != comparable(wheel.tasks):
        raise BuildError("the tasks in the built wheel differ from the project's source",
                         hint="the backend packages other files than the source tree "
                         "(stale build directory or generated code?)")


def _output_path(project: Project, version: str, output) -> Path:
    name = f"{project.name}-{version}.cloacina"
    if output is None:
        return project.root / "dist" / name
    out = Path(output)
    if out.is_dir() or str(output).endswith(("/", os.sep)):
        return out / name
    if out.suffix != ".cloacina":
        raise UsageError(f"output {out} must end in .cloacina or be a directory",
                         hint="name a file like out/pkg.cloacina, or a directory ending in /")
    return out


def render_package_toml(project: Project, version: str) -> bytes:
    import tomlkit

    doc = tomlkit.document()
    pkg = tomlkit.table()
    pkg.add("name", project.name)
    pkg.add("version", version)
    pkg.add("interface", "cloacina-workflow-plugin")
    pkg.add("interface_version", 1)
    pkg.add("extension", "cloacina")
    doc.add("package", pkg)
    meta = tomlkit.table()
    for key in ("language", "workflow_name", "entry_module", "description", "author",
                "requires_python"):
        if project.metadata.get(key) is not None:
            meta.add(key, project.metadata[key])
    doc.add("metadata", meta)
    return tomlkit.dumps(doc).encode("utf-8")


def git_provenance(root: Path) -> tuple[str | None, bool | None]:
    """HEAD's commit and whether tracked files differ from it; (None, None) outside git."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no", "--", "."],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 \
        else None


# ------------------------------------------------------------------ the wheel


def build_wheel(project: Project, tmp: Path, *, isolated: bool, epoch: int) -> tuple[Path, str]:
    if project.layout == CANONICAL:
        srcdir = tmp / "src"
        _stage_canonical(project, srcdir)
    else:
        srcdir = project.root
    outdir = tmp / "wheel"
    outdir.mkdir()
    backend = _run_backend(srcdir, outdir, isolated=isolated, epoch=epoch)
    wheels = sorted(outdir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"the build backend produced {len(wheels)} wheels, expected one")
    return wheels[0], backend


def _runner(epoch: int, output: list[str]):
    def run(cmd, cwd=None, extra_environ=None):
        env = dict(os.environ)
        env.update(extra_environ or {})
        env["SOURCE_DATE_EPOCH"] = str(epoch)
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        output.append(proc.stdout.decode("utf-8", "replace"))
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
    return run


def _run_backend(srcdir: Path, outdir: Path, *, isolated: bool, epoch: int) -> str:
    import build
    import build.env

    output: list[str] = []
    runner = _runner(epoch, output)
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
        tail = "".join(output).strip().splitlines()[-15:]
        missing = "BackendUnavailable" in type(exc.exception).__name__
        if missing:
            raise UsageError(
                f"the build backend is not importable here: {exc.exception}",
                hint="install the project's build requirements in this environment, or "
                     "pass --isolated to build in a fresh environment (needs network)",
                code="backend-unavailable") from None
        raise BuildError("the wheel build failed:\n" + "\n".join("  | " + t for t in tail),
                         hint="fix the build error above; 'python -m build --wheel' shows "
                              "the same") from None
    except build.BuildException as exc:
        raise BuildError(f"cannot build the wheel: {exc}") from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"installing build requirements failed: {exc}",
                         hint="--isolated needs access to a package index") from None


def _backend_name(srcdir: Path) -> str:
    import tomlkit

    try:
        doc = tomlkit.parse((srcdir / "pyproject.toml").read_text("utf-8")).unwrap()
    except Exception:
        return "setuptools.build_meta:__legacy__"
    return str(doc.get("build-system", {}).get("build-backend",
                                               "setuptools.build_meta:__legacy__"))


def _stage_canonical(project: Project, dest: Path) -> None:
    """Copy workflow/ (and vendor/) to a staging tree with a generated pyproject.toml."""
    dest.mkdir()
    tops: list[str] = []
    for source in (project.source_root, project.vendor_dir):
        if source is None:
            continue
        for entry in sorted(source.iterdir()):
            if entry.name in _IGNORED or entry.name.startswith("."):
                continue
            if entry.name in tops:
                raise ProjectError(f"'{entry.name}' exists in both workflow/ and vendor/",
                                   hint="rename or remove one of them")
            _copy_checked(entry, dest / entry.name, project.root)
            tops.append(entry.name)
    (dest / "pyproject.toml").write_text(_staging_pyproject(project, tops), "utf-8")


def _copy_checked(src: Path, dst: Path, root: Path) -> None:
    real_root = root.resolve()
    if src.is_symlink() and not src.resolve().is_relative_to(real_root):
        raise ProjectError(f"{src.relative_to(root)} is a link to a place outside the "
                           "project; it would leak that file into the package",
                           hint="copy the file into the project instead")
    if src.is_dir():
        dst.mkdir()
        for child in sorted(src.iterdir()):
            if child.name in _IGNORED or child.suffix in (".pyc", ".pyo"):
                continue
            _copy_checked(child, dst / child.name, root)
    elif src.is_file():
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o644)


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
