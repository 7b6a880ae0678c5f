"""``build_package``: a workflow project in, one reproducible ``.cloacina`` file out.

1. read the project; 2. discover tasks statically from its source and check the graph
(nothing is written when that fails); 3. build the payload: the wheel with the project's
PEP 517 backend (hatchling for the canonical layout), offline, in the running environment
unless ``isolated`` (``native.py`` builds a Rust crate's library).  A hatchling build,
which writes only to its temporary directory, starts beside discovery and is stopped if
discovery refuses the project; other backends start after it; 4. make sure
the wheel holds the tasks that were discovered: when its modules are the very bytes
discovery read, the discovery stands, otherwise the wheel is discovered again and must
match; 5. assemble the typed manifest and read it back as a reader would
(``assemble.checked_manifest``); 6. write the archive atomically.

A *signed* package already at the output path (embedded signatures, or a ``FILE.sig``
beside it) is not replaced unless ``force`` (``exists``, checked before the build when the
version is known and again before writing); an unsigned one is, as a rebuild is
reproducible and loses nothing.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildError, ProjectError, UsageError
from ..findings import has_errors
from ..format import archive
from ..format import manifest as mf
from ..format.wheel import ZIP_ERRORS, comparable, parse_name, same_name
from ..fsutil import file_sha256
from ..gcpause import gc_paused
from ..model import PayloadKind
from ..progress import NO_PROGRESS, Progress
from ..project.config import CARGO, Project, load_project
from ..project.discover import discover_project
from ..project.discovery import Discovery, discover
from ..project.sources import ZipTree
from ..trust.signatures import now_utc
from .assemble import assemble, checked_manifest
from .engine import build_engine_package
from .identity import (
    BuildResult,
    git_provenance,
    output_path,
    render_package_toml,
    signed_output,
)
from .payload import Payload
from .wheel_build import BackgroundBuild, build_wheel, builds_outside_the_project

__all__ = ["BuildResult", "Payload", "build_package", "build_wheel",
           "git_provenance", "render_package_toml"]

if TYPE_CHECKING:  # pragma: no cover
    from ..trust.keys import SigningKey

log = logging.getLogger("cloacina_build")


FORMATS = ("cloacina", "engine")


def build_package(project_dir: Path | str, output: Path | str | None = None, *,
                  isolated: bool = False, native_lib: Path | str | None = None,
                  sign_key: SigningKey | None = None, comment: str = "",
                  format: str | None = None, force: bool = False, provenance: bool = False,
                  progress: Progress = NO_PROGRESS) -> BuildResult:
    """Build the project into one package; with ``sign_key``, sign it once it is written
    (embedded: in an engine archive, in its second bzip2 stream), and with ``provenance``
    then attest it (``FILE.intoto.jsonl``, signed with the same key, over the final bytes;
    see :mod:`.provenance`).
    ``format``: ``cloacina`` (this tool's zstd package holding a wheel) or ``engine`` (the
    bzip2 source archive the Cloacina engine loads, see :mod:`.engine`); by default the
    project's ``cloacina-build.toml`` says which, else ``cloacina``.  A signed package (or
    one with a ``FILE.sig`` or ``FILE.intoto.jsonl`` beside it) at the output path is
    replaced only with ``force``.  ``progress`` hears each step (reading the project,
    discovery, the wheel or cargo build, writing, signing, attesting) and the bytes
    written."""
    started = now_utc()
    if provenance and sign_key is None:
        raise UsageError("--provenance needs --sign KEY: the attestation is signed with it",
                         hint="cloacinactl package . --sign KEY --provenance")
    if format is None:
        format = _default_format(Path(project_dir))
    if format not in FORMATS:
        raise UsageError(f"unknown package format {format!r}",
                         hint=f"use one of: {', '.join(FORMATS)}")
    if format == "engine":
        if native_lib is not None or isolated:
            raise UsageError("--native-lib and --isolated are not available with "
                             "--format engine: the engine builds from source",
                             hint="package without them")
        result = build_engine_package(project_dir, output, force=force, progress=progress)
    else:
        with gc_paused():
            result = _build(Path(project_dir), output, isolated, native_lib, force, progress)
    if sign_key is None:
        return result
    result = _sign(result, sign_key, comment, force, progress)
    if not provenance:
        return result
    from .provenance import BuildRun, attest_build

    progress.phase("attesting")
    run = BuildRun(Path(project_dir), format, isolated,
                   None if native_lib is None else str(native_lib), True, started, now_utc())
    return replace(result, attestation=attest_build(result, run, sign_key))


def _sign(result: BuildResult, key: SigningKey, comment: str, force: bool,
          progress: Progress) -> BuildResult:
    """Sign the package just written (``force``: even with a stale ``FILE.sig`` or
    ``FILE.intoto.jsonl`` beside it, which the build was allowed to leave behind)."""
    from ..ops.signing import sign_package

    progress.phase("signing")
    signed = sign_package(result.path, key, comment=comment, force=force)
    return replace(result, size=result.path.stat().st_size, signed=signed)


def _default_format(project_dir: Path) -> str:
    from ..project.settings import load_settings

    if not project_dir.is_dir():
        return "cloacina"  # load_project says what is wrong with the path
    return load_settings(project_dir).format or "cloacina"


def _build(project_dir: Path, output: Path | str | None, isolated: bool,
           native_lib: Path | str | None, force: bool, progress: Progress) -> BuildResult:
    progress.phase("reading the project")
    project = load_project(project_dir)
    out = output_path(project, project.version or "0", output)  # a bad -o fails first
    if project.version:
        signed_output(out, force)  # and so does a signed package in the way
    if native_lib is not None and project.layout != CARGO:
        raise UsageError("--native-lib packages a Rust workflow crate's library; "
                         f"{project.root.name} is a Python project")
    epoch = archive.source_date_epoch()
    # Every temporary of the build lives in this one directory (the backend's TMPDIR too,
    # see wheel_build), removed on any exit: an error, Ctrl-C or SIGTERM (the command line
    # turns it into an exception).  A backend still running is killed and waited for first.
    with tempfile.TemporaryDirectory(prefix="cloacina-build-") as tmp:
        early = BackgroundBuild(project, Path(tmp), epoch) \
            if builds_outside_the_project(project, isolated) else None
        try:
            progress.phase("discovering tasks")
            found = discover_project(project)
            if has_errors(found.findings):
                raise ProjectError(f"workflow '{project.workflow_name}' has problems; "
                                   "nothing was built", code="workflow",
                                   findings=found.findings,
                                   hint="fix the places named above and package again")
            payload = _payload(project, found, Path(tmp), early, isolated=isolated,
                               epoch=epoch, native_lib=native_lib, progress=progress)
        except BaseException:
            if early is not None:
                early.cancel()
            raise
        return _write_package(project, payload, output, epoch, found, force, progress)


def _payload(project: Project, found: Discovery, tmp: Path, early: BackgroundBuild | None,
             *, isolated: bool, epoch: int, native_lib: Path | str | None,
             progress: Progress) -> Payload:
    if project.layout == CARGO:
        from .native import native_payload

        return native_payload(project, found, tmp, native_lib, progress)
    progress.phase("building the wheel")
    wheel = early.result() if early is not None else \
        build_wheel(project, tmp, isolated=isolated, epoch=epoch)
    progress.phase("checking the wheel")
    return _wheel_payload(project, found, wheel)


def _wheel_payload(project: Project, found: Discovery, wheel_build: tuple[Path, str]
                   ) -> Payload:
    wheel_path, backend = wheel_build
    wheel = parse_name(wheel_path.name)
    if not same_name(wheel.name, project.name):
        raise BuildError(f"the backend built a wheel for '{wheel.name}', not "
                         f"'{project.name}'")
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            in_wheel = _wheel_discovery(project, found, zf)
    except ZIP_ERRORS as exc:
        raise BuildError(f"the backend built a wheel that cannot be read: {exc}") from None
    return Payload(wheel_path, PayloadKind.WHEEL, wheel.tags,
                   project.version or wheel.version, backend, in_wheel)


def _wheel_discovery(project: Project, found: Discovery, zf: zipfile.ZipFile) -> Discovery:
    """The wheel's tasks: the project's discovery when the wheel shows discovery exactly
    the bytes it read (the usual case), a checked rediscovery otherwise."""
    tree = ZipTree(zf)
    if found.observed is not None and found.observed.same_in(tree):
        log.debug("the wheel's modules are the discovered bytes; not rediscovering")
        return found
    in_wheel = discover(tree, project.entry_module, project.workflow_name)
    _check_wheel_discovery(project, found, in_wheel)
    return in_wheel


def _write_package(project: Project, payload: Payload, output: Path | str | None,
                   epoch: int, found: Discovery, force: bool, progress: Progress
                   ) -> BuildResult:
    """``found``: the project's discovery, whose tasks passed the graph checks."""
    progress.phase("writing the package")
    package_toml = render_package_toml(project, payload.version)
    size = payload.file.stat().st_size
    payload_sha = file_sha256(payload.file)
    revision, dirty = git_provenance(project.root)
    manifest = assemble(project, payload, package_toml=package_toml, size=size,
                        sha256=payload_sha, epoch=epoch, revision=revision, dirty=dirty)
    manifest_bytes = checked_manifest(manifest, package_toml,
                                      graph_checked=payload.discovery is found)
    out = output_path(project, payload.version, output)
    replaced = signed_output(out, force)
    progress.total(size)
    with archive.atomic_output(out) as fh:
        archive.write_head(fh, [(mf.PACKAGE_TOML, package_toml),
                                (mf.MANIFEST, manifest_bytes)], epoch)
        written = archive.write_payload(fh, manifest.payload.path, payload.file, size, epoch,
                                        progress)
        if written != payload_sha:
            raise BuildError("the payload changed while it was being packaged")
        archive.write_trailer(fh, [], epoch)
    return BuildResult(out, manifest, mf.digest(manifest_bytes),
                       out.stat().st_size, replaced=replaced)


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
