"""Open a ``.cloacina`` package: the head (metadata and manifest) in a blink, the rest as a
stream.  This is the reading API the runtime loader shares with ``inspect`` and
``validate``; it trusts nothing inside the file."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PackageError, UsageError
from ..findings import Finding, error
from ..fsutil import no_such_package
from ..model import Manifest, PackageMetadata
from ..progress import NO_PROGRESS, Progress
from . import manifest as mf
from .archive import TarStream, check_framing
from .frames import Frame
from .limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:  # pragma: no cover
    from ..trust.signatures import EmbeddedSignature

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class Package:
    path: Path
    file_size: int
    package_toml: bytes
    metadata: dict[str, Any]
    manifest_bytes: bytes
    manifest: Manifest
    signature_members: list[tuple[str, bytes]] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)

    @property
    def signatures(self) -> list[EmbeddedSignature]:
        """The embedded signature records, read (a record, or why it is malformed) but not
        verified: see ``verify_package``."""
        from ..trust.signatures import read_records  # trust sits above the format layer

        return read_records(self.signature_members)

    @property
    def digest(self) -> str:
        """sha256 of the stored manifest bytes: what a signature covers."""
        return mf.digest(self.manifest_bytes)

    @property
    def name(self) -> str:
        return self.manifest.package.name

    @property
    def version(self) -> str:
        return self.manifest.package.version

    def stream(self, limits: Limits = DEFAULT_LIMITS):
        """Every member, in order, as a bounded stream (a context manager)."""
        return stream_members(self.path, limits)


def _check_file(path: Path) -> int:
    path = Path(path)
    if not path.exists():
        raise no_such_package(path)
    if not path.is_file():
        raise UsageError(f"not a file: {path}", hint="pass the path of a .cloacina package")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if not magic:
        raise PackageError(f"{path} is empty (0 bytes): not a .cloacina package",
                           code="archive-not-zstd",
                           hint="an interrupted copy or download? copy it again; "
                                "'cloacinactl package PROJECT_DIR' builds a package")
    refuse_engine(path, None, magic)
    if magic != ZSTD_MAGIC:
        raise PackageError(f"{path} is not a .cloacina package (it starts neither with a "
                           "zstd frame nor with a bzip2 stream)", code="archive-not-zstd")
    return path.stat().st_size


def refuse_engine(path: Path | str, command: str | None, magic: bytes | None = None) -> None:
    """:class:`PackageError` (``engine-unsupported``) when ``path`` is an engine archive:
    a guard for readers of the zstd format only (every command dispatches engine archives
    to the engine reader before it gets here)."""
    from .engine.bzip import ENGINE, sniff

    if magic is None:
        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError:
            return  # the command's own checks report a missing or unreadable file
    if sniff(magic) == ENGINE:
        what = f"'cloacinactl {command}'" if command else "this command"
        raise PackageError(f"{path} is an engine archive (a bzip2 tar of source); {what} "
                           "does not support engine archives yet", code="engine-unsupported",
                           hint="'cloacinactl inspect', 'validate', 'sign', 'verify' and "
                                "'run' read engine archives")


@contextlib.contextmanager
def stream_members(path: Path, limits: Limits = DEFAULT_LIMITS, *, hash_raw: bool = True,
                   progress: Progress = NO_PROGRESS) -> Iterator[TarStream]:
    """``hash_raw=False``: a reader that needs no signature digests skips hashing the
    raw file bytes.  ``progress`` hears the file's size and the bytes read."""
    size = _check_file(path)
    with open(path, "rb") as fh:
        progress.total(size)
        with naming(path):
            stream = TarStream(fh, limits, hash_raw=hash_raw, progress=progress)
        yield stream


@contextlib.contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """A :class:`PackageError` raised inside names the file it is about (``cut.cloacina:
    the zstd framing is broken: ...``), unless its message does already."""
    try:
        yield
    except PackageError as exc:
        if exc.message.startswith(str(path)):
            raise
        raise PackageError(f"{path}: {exc.message}", code=exc.code, hint=exc.hint,
                           findings=exc.findings) from None


def parse_package_toml(data: bytes) -> dict[str, Any]:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        return tomlkit.parse(data.decode("utf-8")).unwrap()
    except (UnicodeDecodeError, TOMLKitError, RecursionError) as exc:
        raise PackageError(f"package.toml is not valid TOML: {exc}",
                           code="package-toml-syntax") from None


def read_package_toml(data: bytes) -> tuple[PackageMetadata | None, list[Finding]]:
    """``package.toml`` checked against its schema and typed, or the findings."""
    from ..schema_subset import subset_findings

    try:
        table = parse_package_toml(data)
    except PackageError as exc:
        return None, [error(exc.code, exc.message, mf.PACKAGE_TOML)]
    problems = subset_findings(table, "package", code="schema-package-toml",
                               location=mf.PACKAGE_TOML)
    if problems:
        return None, problems
    package = table["package"]
    return PackageMetadata(package["name"], package["version"],
                           dict(table.get("metadata", {}))), []


def read_head(stream: TarStream, limits: Limits) -> tuple[bytes, bytes]:
    """The first two members, which must be package.toml and manifest.json."""
    found: list[bytes] = []
    for expected in (mf.PACKAGE_TOML, mf.MANIFEST):
        member = next(stream, None)
        if member is None or member.name != expected:
            got = "nothing" if member is None else repr(member.name)
            raise PackageError(f"member {len(found) + 1} must be {expected}, found {got}",
                               code="member-order")
        found.append(member.read_all(limits.max_manifest_size if expected == mf.MANIFEST
                                      else limits.max_metadata_size))
    return found[0], found[1]


def open_package(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Package:
    """Read the head of a package (and its signature trailer) without touching the payload."""
    path = Path(path)
    size = _check_file(path)
    with open(path, "rb") as fh, naming(path):
        frames = check_framing(fh)
        head_toml, head_manifest = read_head(TarStream(fh, limits, check_frames=False), limits)
        signatures = read_trailer(fh, frames, limits)
    return Package(path, size, head_toml, parse_package_toml(head_toml), head_manifest,
                   read_manifest(head_manifest, path), signatures, frames)


def read_manifest(data: bytes, path: Path | str | None = None) -> Manifest:
    """The typed manifest, or a :class:`PackageError` carrying every finding."""
    manifest, findings = Manifest.parse(data)
    if manifest is not None:
        return manifest
    code = findings[0].code if findings else "manifest-unusable"
    problems = f"{len(findings)} problem{'s' if len(findings) != 1 else ''}"
    where = f"{path}: " if path is not None else ""
    raise PackageError(f"{where}manifest.json is unusable ({problems})", code=code,
                       findings=findings, hint="'cloacinactl validate' runs every check")


def read_trailer(fh, frames, limits: Limits) -> list[tuple[str, bytes]]:
    """Signatures in the last frame, found by walking frame headers (no decompression)."""
    if len(frames) < 3:
        return []
    last = frames[-1]
    if last.length > limits.max_metadata_size:
        raise PackageError("the signature trailer is larger than the metadata limit",
                           code="limit-metadata-size")
    fh.seek(last.offset)
    stream = TarStream(io.BytesIO(fh.read(last.length)), limits)
    out: list[tuple[str, bytes]] = []
    for member in stream:
        if not member.name.startswith(mf.SIGNATURE_DIR):
            raise PackageError(f"unexpected member {member.name!r} in the signature trailer",
                               code="member-order")
        out.append(read_signature(member, len(out), limits))
    return out


def read_signature(member, count: int, limits: Limits) -> tuple[str, bytes]:
    """One embedded signature record, the ``count``-th: a flood of records, or one huge
    record, is refused before it is read."""
    if count >= limits.max_signatures:
        raise PackageError(f"more than {limits.max_signatures} signatures in the package",
                           code="limit-signatures",
                           hint="a package carries one signature per signing key")
    return member.name, member.read_all(limits.max_signature_size, "a signature record",
                                        "limit-signature-size")
