"""The one streaming pass over a package: everything later checks need, read once.

Structural problems (framing, member names, limits, an unusable manifest) stop the pass
and become a finding; what was read until then is kept.  The payload is copied, while it
is hashed, into a private directory the caller owns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ...errors import PackageError
from ...findings import Finding, error
from ...format import manifest as mf
from ...format.archive import Member, TarStream, check_framing
from ...format.frames import Frame
from ...format.limits import Limits
from ...format.package import read_head, read_package_toml, read_signature, read_trailer
from ...model import Manifest, PackageMetadata
from ...progress import NO_PROGRESS, Progress


@dataclass
class Scan:
    path: Path
    findings: list[Finding] = field(default_factory=list)
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)  # member -> size, sha256
    digest: str | None = None               # sha256 of the stored manifest bytes
    metadata: PackageMetadata | None = None  # package.toml, when it is well formed
    manifest: Manifest | None = None
    payload_file: Path | None = None        # the payload, copied aside while hashed
    complete: bool = False                  # the pass reached the end of the archive
    frames: list[Frame] = field(default_factory=list)
    signature_members: list[tuple[str, bytes]] = field(default_factory=list)
    archive_digest: str | None = None       # sha256 of the bytes before the trailer
    file_digest: str | None = None          # sha256 of the whole file


def scan_package(path: Path, limits: Limits, private: Path, *, raw_digests: bool,
                 progress: Progress = NO_PROGRESS) -> Scan:
    """``raw_digests``: hash the raw file bytes even when the trailer holds no signature
    (a policy that requires or checks signatures needs them).  ``progress`` hears the
    file's size and every chunk read."""
    scan = Scan(path)
    try:
        _stream(scan, limits, private, raw_digests, progress)
        scan.complete = True
    except PackageError as exc:
        scan.findings.append(error(exc.code, exc.message))
    return scan


def _stream(scan: Scan, limits: Limits, private: Path, raw_digests: bool,
            progress: Progress) -> None:
    with open(scan.path, "rb") as fh:
        frames = check_framing(fh)
        progress.total(frames[-1].offset + frames[-1].length if frames else 0)
        stream = TarStream(fh, limits, frames=frames, progress=progress,
                           hash_raw=raw_digests or _trailer_holds_signatures(fh, frames,
                                                                            limits))
        scan.frames = stream.frames
        toml_bytes, manifest_bytes = read_head(stream, limits)
        _read_head(scan, toml_bytes, manifest_bytes)
        assert scan.manifest is not None
        payload_path = scan.manifest.payload.path
        after_payload = False
        for member in stream:
            if member.name.startswith(mf.SIGNATURE_DIR):
                name, data = read_signature(member, len(scan.signature_members), limits)
                if not after_payload:
                    scan.findings.append(error(
                        "member-order", f"signature {member.name!r} comes before the "
                        "payload; signatures belong in the trailer", member.name))
                scan.signature_members.append((name, data))
            elif member.name == payload_path and scan.payload_file is None:
                scan.payload_file = private / _safe_base(member.name)
                scan.seen[member.name] = _copy_hashed(member, scan.payload_file)
                after_payload = True
            else:
                scan.seen[member.name] = _hash_member(member)
        scan.archive_digest, scan.file_digest = stream.digests()


def _trailer_holds_signatures(fh: BinaryIO, frames: list[Frame], limits: Limits) -> bool:
    """A peek at the small last frame: raw digests are only worth computing when a
    signature will need them."""
    try:
        start = fh.tell()
        members = read_trailer(fh, frames, limits)
        fh.seek(start)
    except PackageError:
        fh.seek(0)
        return True  # the full pass will report it; hash anyway
    return bool(members)


def _read_head(scan: Scan, toml_bytes: bytes, manifest_bytes: bytes) -> None:
    scan.seen[mf.PACKAGE_TOML] = (len(toml_bytes), mf.digest(toml_bytes))
    scan.digest = mf.digest(manifest_bytes)
    scan.metadata, problems = read_package_toml(toml_bytes)
    scan.findings += problems
    manifest, problems = Manifest.parse(manifest_bytes)
    scan.findings += problems
    if manifest is None:
        if any(f.code == "manifest-syntax" for f in problems):
            raise PackageError("cannot check the rest without a manifest",
                               code="manifest-unusable")
        raise PackageError("the manifest does not follow the format; the members cannot be "
                           "checked against it", code="manifest-unusable")
    scan.manifest = manifest


def _safe_base(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base if base not in ("", ".", "..") else "payload.whl"


def _hash_member(member: Member) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    for chunk in member.chunks():
        h.update(chunk)
        size += len(chunk)
    return size, h.hexdigest()


def _copy_hashed(member: Member, dest: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    with open(dest, "wb") as out:
        for chunk in member.chunks():
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def raw_digests(path: Path, mark: int, progress: Progress = NO_PROGRESS) -> tuple[str, str]:
    """sha256 of the bytes before ``mark`` and of the whole file, in one read (reported to
    ``progress`` as the step ``hashing the file``)."""
    h = hashlib.sha256()
    prefix = None
    pos = 0
    with open(path, "rb") as fh:
        progress.phase("hashing the file")
        progress.total(fh.seek(0, 2))
        fh.seek(0)
        while chunk := fh.read(1 << 20):
            progress.advance(len(chunk))
            if prefix is None and pos + len(chunk) >= mark:
                h.update(chunk[: mark - pos])
                prefix = h.hexdigest()
                h.update(chunk[mark - pos:])
            else:
                h.update(chunk)
            pos += len(chunk)
    return prefix if prefix is not None else h.hexdigest(), h.hexdigest()
