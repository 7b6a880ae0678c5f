"""``convert_package``: a package in one format, the same workflow in the other, where the
conversion loses nothing.

* **cloacina → engine.** The zstd package is validated (every digest, the wheel's RECORD)
  and its wheel kept; the wheel's importable content (its purelib/platlib files, not its
  ``.dist-info``) becomes ``workflow/`` of a staged project beside the package's own
  ``package.toml``, which the engine writer (:mod:`.engine`) packages: discovery from the
  unpacked source, the engine's rules read back before anything is kept.
* **engine → cloacina.** The archive is validated with every engine rule; ``workflow/``
  and ``vendor/`` are unpacked into a staged project, and the zstd builder (:mod:`.builder`)
  builds its wheel offline with hatchling, exactly as for a canonical project.

Either way the result must describe the same workflow (tasks and fingerprints, compared
as typed objects) and carry the same files (by sha256) as the input, and it is read back
by the readers ``validate`` runs before it is put in place, atomically; a signed file in
the way is replaced only with ``force``.  Where the conversion would lose something it is
refused with a ``convert-*`` code and a hint, and nothing is written: native payloads,
compiled extensions, a wheel's ``.data`` scripts or headers, top-level names on the engine's
stdlib deny list, engine archives without a Python workflow, files or ``package.toml``
keys the other format cannot carry.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BuildError, CloacinaError, PackageError, UsageError
from ..format.engine.bzip import CLOACINA, ENGINE, detect_format
from ..format.engine.extract import extract_root
from ..format.engine.manifest import parse_toml
from ..format.engine.rules import STDLIB_DENY, shown_name
from ..format.engine.trailer import BUILD_DIR
from ..format.package import open_package
from ..format.wheel import ZIP_ERRORS
from ..fsutil import atomic_output, no_such_package
from ..gcpause import gc_paused
from ..model import Manifest, PayloadKind, Severity, Workflow
from ..progress import NO_PROGRESS, Progress
from ..project.config import METADATA_KEYS
from ..trust.policy import sidecar
from .identity import signed_output

TARGETS = (ENGINE, CLOACINA)
SOURCE_DIRS = ("workflow/", "vendor/")
COMPILED = (".so", ".pyd", ".dylib", ".dll", ".a", ".lib", ".o")
PACKAGE_KEYS = {"name", "version", "interface", "interface_version", "extension"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class ConvertResult:
    path: Path
    source: Path
    to: str
    manifest: Manifest
    size: int
    replaced: str | None = None
    signatures_dropped: int = 0  # the input's signatures (embedded and FILE.sig): not carried

    def to_dict(self) -> dict[str, Any]:
        wf = self.manifest.workflow
        return {"ok": True, "path": str(self.path), "from": str(self.source), "to": self.to,
                "size": self.size, "package": self.manifest.package.to_dict(),
                "workflow": {"name": wf.name, "fingerprint": wf.fingerprint,
                             "tasks": [t.id for t in wf.tasks]},
                "replaced": self.replaced, "signatures_dropped": self.signatures_dropped}


def convert_package(path: Path | str, to: str, output: Path | str | None = None, *,
                    force: bool = False, progress: Progress = NO_PROGRESS) -> ConvertResult:
    """Convert the package at ``path`` to the format ``to`` (``engine`` or ``cloacina``),
    written to ``output`` (a file or a directory; default: ``NAME-VERSION.cloacina``
    beside the input, which is never replaced).  ``progress`` hears each step (reading
    the input, the build, reading the result back) and the bytes read."""
    path = Path(path)
    _source_format(path, to)
    with gc_paused(), tempfile.TemporaryDirectory(prefix="cloacina-convert-") as tmp:
        work = Path(tmp)
        built, manifest = _to_engine(path, work, progress) if to == ENGINE \
            else _to_cloacina(path, work, progress)
        out = _output(path, manifest, output)
        replaced = signed_output(out, force)
        progress.phase("writing the result")
        with atomic_output(out) as fh, open(built, "rb") as src:
            shutil.copyfileobj(src, fh, CHUNK)
    return ConvertResult(out, path, to, manifest, out.stat().st_size, replaced,
                         _signatures_of(path))


def _signatures_of(path: Path) -> int:
    """How many signatures the input carries (a signature covers its bytes, so none
    survives a conversion: the result must be signed again)."""
    from .identity import embedded_records

    try:
        count = len(embedded_records(path))
    except CloacinaError:
        count = 0
    return count + (sidecar(path) is not None)


def _source_format(path: Path, to: str) -> str:
    """The input's format, the other one than ``to``."""
    if to not in TARGETS:
        raise UsageError(f"unknown format {to!r}", hint=f"use one of: {', '.join(TARGETS)}")
    if not path.is_file():
        raise no_such_package(path)
    found = detect_format(path)
    if found == to:
        raise UsageError(f"{path} is already in the {to} format",
                         hint="convert a package of the other format")
    if found not in TARGETS:
        raise UsageError(f"{path} is neither a cloacina package (zstd) nor an engine archive "
                         "(bzip2)", code="archive-not-zstd",
                         hint="'cloacinactl validate' says what the file is")
    return found


def _output(path: Path, manifest: Manifest, output: Path | str | None) -> Path:
    name = f"{manifest.package.name}-{manifest.package.version}.cloacina"
    out = path.parent / name if output is None else Path(output)
    if output is not None and (out.is_dir() or str(output).endswith(("/", "\\"))):
        out = out / name
    elif out.suffix != ".cloacina":
        raise UsageError(f"output {out} must end in .cloacina or be a directory",
                         hint="name a file like out/pkg.cloacina, or a directory ending in /")
    if out.exists() and out.resolve() == path.resolve():
        raise UsageError(f"converting {path} would replace it", code="exists",
                         hint="pass -o with another file or directory")
    return out


def refuse(code: str, message: str, hint: str) -> BuildError:
    return BuildError(f"cannot convert losslessly: {message}; nothing was written",
                      code=code, hint=hint)


def _to_engine(path: Path, work: Path, progress: Progress) -> tuple[Path, Manifest]:
    from ..ops.validate import validate_package
    from .engine import build_engine_package

    package = open_package(path)
    if package.manifest.payload.kind is not PayloadKind.WHEEL:
        raise refuse("convert-native", f"the payload is a {package.manifest.payload.kind.value}"
                     " library, and the engine format carries source", "package the Rust "
                     "crate with 'cloacinactl package --format engine' instead")
    wheel = work / "payload.whl"
    _valid(validate_package(path, keep_payload=wheel, progress=progress).findings, path)
    progress.phase("unpacking the wheel")
    project = work / "project"
    content = unpack_wheel(wheel, project / "workflow")
    (project / "package.toml").write_bytes(package.package_toml)
    result = build_engine_package(project, work / "out" / "engine.cloacina",
                                  progress=progress)
    same_workflow(package.manifest.workflow, result.manifest.workflow)
    engine_files = {m.path[len("workflow/"):]: m.sha256 for m in result.manifest.members
                    if m.path.startswith("workflow/")}
    same_files(content, engine_files, "the engine archive's workflow/")
    return result.path, result.manifest


def _to_cloacina(path: Path, work: Path, progress: Progress) -> tuple[Path, Manifest]:
    from ..ops.engine import validate_engine
    from ..ops.validate import validate_package
    from .builder import build_package

    # validated and unpacked from one private copy: the bytes that passed the checks are
    # the bytes the build sees, whatever happens to the user's file meanwhile
    copy = work / "input.cloacina"
    shutil.copyfile(path, copy)
    checked = validate_engine(copy, progress=progress)
    _valid(checked.findings, path)
    archive = checked.archive
    assert archive is not None and archive.root is not None and archive.manifest is not None
    if archive.manifest.language != "python" or checked.workflow is None:
        raise refuse("convert-no-workflow", f"the archive holds a {archive.manifest.language}"
                     " workflow, not Python source", "a zstd package of a Rust crate holds "
                     "its built library: package the crate with 'cloacinactl package'")
    names = archive.names()
    _carried(names, archive.package_toml or b"")
    progress.phase("unpacking the archive")
    project = work / "project"
    extract_root(copy, archive.root, project, skip=(BUILD_DIR,))
    result = build_package(project, work / "out" / "cloacina.cloacina", progress=progress)
    same_workflow(checked.workflow, result.manifest.workflow)
    wheel = work / "check.whl"
    _valid(validate_package(result.path, keep_payload=wheel, progress=progress).findings,
           result.path)
    prefix = f"{archive.root}/"
    source = {m.name[len(prefix):].split("/", 1)[1]: m.sha256 for m in archive.members
              if m.name[len(prefix):].startswith(SOURCE_DIRS) and m.sha256}
    same_files(unpack_wheel(wheel, work / "check"), source, "the wheel")
    return result.path, result.manifest


def _valid(findings, path: Path) -> None:
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        raise PackageError(f"{path} does not validate; nothing was converted",
                           code="convert-invalid", findings=errors,
                           hint="'cloacinactl validate' lists every problem")


def _carried(names: set[str], package_toml: bytes) -> None:
    """Everything of the archive the zstd package carries: package.toml's known keys,
    ``workflow/`` and ``vendor/`` (this tool's ``.cloacina-build/`` is made again)."""
    extra = sorted(n for n in names if n != "package.toml"
                   and not n.startswith((*SOURCE_DIRS, BUILD_DIR)))
    if extra:
        raise refuse("convert-lossy", f"{len(extra)} file(s) outside workflow/ and vendor/ "
                     f"({', '.join(shown_name(n) for n in extra[:3])}) have no place in a "
                     "zstd package", "move them under workflow/ or drop them, then package "
                     "the project again")
    raw, _ = parse_toml(package_toml)
    raw = raw or {}
    keys = [f"[package].{k}" for k in sorted(set(raw.get("package") or {}) - PACKAGE_KEYS)]
    keys += [f"[metadata].{k}" for k in sorted(set(raw.get("metadata") or {}) - set(METADATA_KEYS))]
    keys += [f"[{k}]" for k in sorted(set(raw) - {"package", "metadata"})]
    if keys:
        raise refuse("convert-lossy", f"package.toml sets {', '.join(keys[:5])}, which a "
                     "zstd package does not carry", "keep the engine archive for the engine")


def unpack_wheel(wheel: Path, dest: Path) -> dict[str, str]:
    """The wheel's importable files written under ``dest``; their sha256 by path.  Refuses
    what the engine format cannot carry as source."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            _pure(zf)
            out, data_dir = {}, _data_dir(zf)
            for info in zf.infolist():
                rel = _content_name(info.filename, data_dir)
                if rel is not None and not info.is_dir():
                    out[rel] = _unpack_one(zf, info, rel, dest)
            return out
    except FileExistsError:  # two entries installing to one path
        raise PackageError("the wheel installs two files to the same path",
                           code="convert-invalid",
                           hint="'cloacinactl validate' checks the wheel") from None
    except ZIP_ERRORS as exc:  # never str(exc): an OSError names the private directory
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            type(exc).__name__
        raise PackageError(f"cannot read the wheel: {why}", code="convert-invalid",
                           hint="'cloacinactl validate' checks the wheel") from None


def _pure(zf: zipfile.ZipFile) -> None:
    wheel_files = [n for n in zf.namelist() if n.count("/") == 1
                   and n.split("/")[0].endswith(".dist-info") and n.endswith("/WHEEL")]
    text = zf.read(wheel_files[0]).decode("utf-8", "replace").lower() if wheel_files else ""
    if "root-is-purelib: true" not in text:
        raise refuse("convert-compiled", "the wheel is not pure Python (Root-Is-Purelib is "
                     "not true)", "the engine builds source only: keep the zstd package")


def _data_dir(zf: zipfile.ZipFile) -> str | None:
    """This distribution's ``NAME-VERSION.data`` directory, named after its one
    ``.dist-info`` (as the installer finds it; validate has checked there is one)."""
    tops = {n.split("/", 1)[0] for n in zf.namelist() if "/" in n}
    infos = sorted(t for t in tops if t.endswith(".dist-info"))
    return infos[0][:-len(".dist-info")] + ".data" if len(infos) == 1 else None


def _content_name(name: str, data_dir: str | None) -> str | None:
    """The path a wheel entry installs to, relative to site-packages; None for metadata.
    Only the distribution's own ``.data`` directory is special (as for the installer): a
    top-level directory that merely ends in ``.data`` installs as itself."""
    top, _, rest = name.partition("/")
    if top.endswith(".dist-info"):
        return None
    if top == data_dir:
        scheme, _, rel = rest.partition("/")
        if scheme not in ("purelib", "platlib"):
            raise refuse("convert-wheel-data", f"the wheel installs {scheme} files "
                         f"({shown_name(name)[:120]})", "the engine loads importable source "
                         "only: keep the zstd package")
        return rel or None
    return name


def _unpack_one(zf: zipfile.ZipFile, info: zipfile.ZipInfo, rel: str, dest: Path) -> str:
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise PackageError(f"the wheel names a file {shown_name(rel)[:120]!r}, which cannot "
                           "be unpacked safely", code="convert-invalid",
                           hint="'cloacinactl validate' checks the wheel")
    base = parts[0][:-3] if parts[0].endswith(".py") else parts[0]
    if base in STDLIB_DENY:
        raise refuse("convert-stdlib-shadow", f"the wheel's top-level '{base}' is on the "
                     "engine's stdlib deny list", "rename the module; the engine's loader "
                     "refuses workflow/ names that shadow the standard library")
    if posixpath.basename(rel).endswith(COMPILED) or ".so." in posixpath.basename(rel):
        raise refuse("convert-compiled", f"the wheel holds a compiled file "
                     f"({shown_name(rel)[:120]})", "the engine builds source only: keep "
                     "the zstd package")
    target = dest.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with zf.open(info) as src, open(target, "xb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def same_workflow(expected: Workflow, got: Workflow) -> None:
    """The converted package's workflow, rediscovered from its source, against the
    original's: every task, fingerprint, trigger, param and secret."""
    if expected.to_dict() == got.to_dict():
        return
    before = {t.id: t.fingerprint for t in expected.tasks}
    after = {t.id: t.fingerprint for t in got.tasks}
    changed = sorted(set(before) ^ set(after)) or \
        sorted(k for k in before if before[k] != after.get(k))
    what = f"task(s) {', '.join(changed[:5])} differ" if changed else \
        f"the workflow fingerprint {expected.fingerprint[:12]} became {got.fingerprint[:12]}"
    raise refuse("convert-drift", f"the converted workflow is not the same: {what}",
                 "build both formats from the project instead")


def same_files(expected: dict[str, str], got: dict[str, str], where: str) -> None:
    if expected == got:
        return
    differ = sorted(set(expected) ^ set(got)) + \
        sorted(k for k in expected if k in got and expected[k] != got[k])
    raise refuse("convert-lossy", f"{len(differ)} file(s) differ in {where} "
                 f"({', '.join(shown_name(n) for n in differ[:3])})",
                 "build both formats from the project instead")
