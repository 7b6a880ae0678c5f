"""``build_engine_package``: a project in, an archive the Cloacina engine itself accepts out.

The engine (2026) loads a bzip2 tar of *source* whose one top-level directory
``NAME-VERSION/`` holds ``package.toml`` and ``workflow/`` (Python) or the crate's
``Cargo.toml``, ``build.rs`` and ``src/`` (Rust: the engine compiles it);
``docs/engine.md`` and the interop specification it cites say what the engine checks.
This writer produces exactly that, and carries this tool's value inside the same archive
without disturbing the engine:

* ``package.toml`` is written fully explicit (``interface``, ``interface_version``,
  ``extension``, ``language``, ``workflow_name``, ``entry_module``): the engine's Python
  loader does not apply the defaults its upload path applies;
* ``NAME-VERSION/.cloacina-build/manifest.json`` is the same typed, fingerprinted manifest
  a zstd package carries, second in the archive so a reader finds it in the first bytes.
  Its payload is the source tree (kind ``source``): every file outside ``vendor/`` is a
  member with its size and sha256, and the payload digest is the sha256 of the sorted
  listing of every file, vendored ones included (``format/manifest.source_digest``), so
  the manifest ``inspect`` reads does not grow with the vendored code;
* the archive is two bzip2 streams: the first holds every member (and no end-of-archive
  blocks), the second only the two zero blocks that end the tar.  The engine decodes the
  first stream only, so signatures embedded later, in the second stream, never reach it
  and never change the files it loads; ``tar``, ``bzip2 -d`` and Python read both;
* it is reproducible: members in a fixed order (``package.toml``, the manifest, then files
  by byte order), owner 0, mode 0644, mtime ``SOURCE_DATE_EPOCH``, bzip2 level 9.
"""

from __future__ import annotations

import bz2
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import BuildError, ProjectError, UsageError
from ..findings import has_errors
from ..format import archive
from ..format import manifest as mf
from ..format.engine.archive import BUILD_MANIFEST
from ..format.engine.trailer import encode_signature_stream
from ..fsutil import atomic_output
from ..gcpause import gc_paused
from ..model import Manifest, Member, Payload, PayloadKind, Severity
from ..progress import NO_PROGRESS, Progress
from ..project.config import CARGO, Project, load_project
from ..project.discover import discover_project
from ..project.discovery import Discovery
from ..project.workflow import package_info, workflow_of
from .assemble import build_info, checked_manifest
from .identity import (
    BuildResult,
    git_provenance,
    output_path,
    render_package_toml,
    signed_output,
)
from .tree import project_files

SOURCE_PAYLOAD = mf.PAYLOAD_DIR + "source"
BZIP2_LEVEL = 9
CHUNK = 1 << 20
RUST_FILES = ("Cargo.toml", "Cargo.lock", "build.rs")


@dataclass(frozen=True)
class SourceFile:
    """One file of the archive: its path under ``NAME-VERSION/`` and what it held."""

    path: str
    file: Path
    size: int
    sha256: str


def build_engine_package(project_dir: Path | str, output: Path | str | None = None, *,
                         force: bool = False, progress: Progress = NO_PROGRESS
                         ) -> BuildResult:
    """Write the engine archive of the project.  Nothing is written when the project or
    the archive would be refused; a signed archive in the way is replaced only with
    ``force``.  ``progress`` hears each step and the source bytes written."""
    with gc_paused():
        progress.phase("reading the project")
        project = load_project(Path(project_dir))
        if project.version is None:
            raise UsageError(f"{project.root.name} takes its version from the build backend; "
                             "the engine format needs a version in the project's config",
                             hint="set a static version, or package without --format engine")
        progress.phase("discovering tasks")
        found = discover_project(project)
        if has_errors(found.findings):
            raise ProjectError(f"workflow '{project.workflow_name}' has problems; nothing "
                               "was built", code="workflow", findings=found.findings,
                               hint="fix the places named above and package again")
        epoch = archive.source_date_epoch()
        progress.phase("hashing the source")
        files = source_files(project)
        package_toml = render_package_toml(project, project.version)
        manifest = _manifest(project, found, package_toml, files, epoch)
        manifest_bytes = checked_manifest(manifest, package_toml, graph_checked=True)
        out = output_path(project, project.version, output)
        replaced = signed_output(out, force)
        root = f"{project.name}-{project.version}"
        written: dict[str, int] = {}
        listing = written_members(root, package_toml, manifest_bytes, files)

        def check(tmp: Path) -> None:
            progress.phase("checking the archive")
            engine_accepts(tmp, listing, written["end"])

        progress.phase("writing the archive")
        progress.total(sum(f.size for f in files))
        with atomic_output(out, check=check) as fh:
            written["end"] = write_engine_archive(fh, root, package_toml, manifest_bytes,
                                                  files, epoch, progress)
    return BuildResult(out, manifest, mf.digest(manifest_bytes), out.stat().st_size,
                       replaced=replaced)


Written = list[tuple[str, int, str, Callable[[], bytes]]]
# Warnings when reading any archive (the daemon takes files over the upload limit; the
# engine's own archives may carry such files), but this writer does not make them: the
# server refuses the first, and the engine's compiler would see phantom params in the
# second (a .py file outside workflow/, vendored ones included, declaring params).
REFUSED_WARNINGS = frozenset({"engine-limit-upload", "engine-stray-python"})


def written_members(root: str, package_toml: bytes, manifest_bytes: bytes,
                    files: list[SourceFile]) -> Written:
    """What :func:`write_engine_archive` writes, member by member: the name, the size, the
    sha256 and a way to read the bytes again."""
    def fixed(data: bytes) -> Callable[[], bytes]:
        return lambda: data

    return [(f"{root}/{mf.PACKAGE_TOML}", len(package_toml),
             hashlib.sha256(package_toml).hexdigest(), fixed(package_toml)),
            (f"{root}/{BUILD_MANIFEST}", len(manifest_bytes),
             hashlib.sha256(manifest_bytes).hexdigest(), fixed(manifest_bytes)),
            *((f"{root}/{f.path}", f.size, f.sha256, f.file.read_bytes) for f in files)]


def engine_accepts(path: Path, written: Written, first_stream_end: int) -> None:
    """The archive just written, judged with every engine rule before it is put in place
    (``validate`` on an engine archive runs the same checks): the engine's unpack limits
    and upload limit, one root, no links, the stdlib deny list, ``entry_module`` resolving
    under ``workflow/``, at least one task, stray ``.py`` files, name and version lengths,
    both views of ``package.toml``, and this tool's manifest against the source.  The
    members are described from what was written rather than decompressed again (the
    tests read every archive the writer makes back with the full reader); the file's size
    and its second stream are read from disk.  An error refuses the archive
    (``engine-refused``) and nothing is written."""
    from ..format.engine.archive import describe_written
    from ..ops.engine import validate_engine_archive

    archive = describe_written(path, written, first_stream_end)
    problems = [f for f in validate_engine_archive(archive).findings
                if f.severity is Severity.ERROR or f.code in REFUSED_WARNINGS]
    if problems:
        raise BuildError(f"the engine would refuse this archive, so nothing was written: "
                         f"{problems[0].message}", code="engine-refused", findings=problems,
                         hint="fix what is named above (docs/engine.md lists the engine's "
                         "rules)")


def source_files(project: Project) -> list[SourceFile]:
    """What the engine needs, each file hashed once: ``workflow/`` and ``vendor/`` for
    Python, the crate's source for Rust."""
    if project.layout == CARGO:
        picked = [(name, project.root / name) for name in RUST_FILES
                  if (project.root / name).is_file()]
        picked += [(f"src/{rel}", path) for rel, path in
                   project_files(project.root / "src", project.root)]
    else:
        picked = [(f"workflow/{rel}", path) for rel, path in
                  project_files(project.source_root, project.root)]
        if project.vendor_dir is not None:
            picked += [(f"vendor/{rel}", path) for rel, path in
                       project_files(project.vendor_dir, project.root)]
    return [_hashed(rel, path) for rel, path in
            sorted(picked, key=lambda item: item[0].encode("utf-8", "surrogateescape"))]


def _hashed(rel: str, path: Path) -> SourceFile:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return SourceFile(rel, path, size, digest.hexdigest())


def _manifest(project: Project, found: Discovery, package_toml: bytes,
              files: list[SourceFile], epoch: int) -> Manifest:
    source = [Member(f.path, f.size, f.sha256) for f in files]
    members = tuple(sorted((Member(mf.PACKAGE_TOML, len(package_toml),
                                   hashlib.sha256(package_toml).hexdigest()),
                            *(m for m in source if not m.path.startswith(mf.VENDOR_DIR))),
                           key=lambda m: m.path))
    tags = ("rust-source",) if project.layout == CARGO else ("py3-none-any",)
    payload = Payload(kind=PayloadKind.SOURCE, path=SOURCE_PAYLOAD, filename="source",
                      size=sum(f.size for f in files), sha256=mf.source_digest(source),
                      tags=tags)
    assert project.version is not None
    return Manifest(package=package_info(project, project.version),
                    workflow=workflow_of(project, found), payload=payload, members=members,
                    build=build_info("engine-source", epoch, *git_provenance(project.root)),
                    native=None)


def write_engine_archive(fh: BinaryIO, root: str, package_toml: bytes,
                         manifest_bytes: bytes, files: list[SourceFile], epoch: int,
                         progress: Progress = NO_PROGRESS) -> int:
    """Stream one: every member, no end-of-archive blocks; stream two: the end blocks.
    Returns where stream one ends (the offset of stream two).  Each chunk of source
    written is reported to ``progress``."""
    start = fh.tell()
    first = bz2.BZ2Compressor(BZIP2_LEVEL)
    fh.write(first.compress(archive.tar_member(f"{root}/{mf.PACKAGE_TOML}", package_toml,
                                               epoch)))
    fh.write(first.compress(archive.tar_member(f"{root}/{BUILD_MANIFEST}", manifest_bytes,
                                               epoch)))
    for source in files:
        _write_file(fh, first, f"{root}/{source.path}", source, epoch, progress)
    fh.write(first.flush())
    end = fh.tell() - start
    fh.write(encode_signature_stream(root, [], epoch))  # the unsigned trailer
    return end


def _write_file(fh: BinaryIO, compressor, name: str, source: SourceFile, epoch: int,
                progress: Progress) -> None:
    fh.write(compressor.compress(archive.tar_header(name, source.size, epoch)))
    digest, size = hashlib.sha256(), 0
    with open(source.file, "rb") as src:
        while size < source.size and (chunk := src.read(min(CHUNK, source.size - size))):
            digest.update(chunk)
            size += len(chunk)
            fh.write(compressor.compress(chunk))
            progress.advance(len(chunk))
    if size != source.size or digest.hexdigest() != source.sha256:
        raise BuildError(f"{source.path} changed while it was being packaged",
                         hint="package again once nothing is writing to the project")
    fh.write(compressor.compress(b"\0" * (-size % archive.BLOCK)))
