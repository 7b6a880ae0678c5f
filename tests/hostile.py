"""Helpers to craft hostile ``.cloacina`` archives in tests.

A package is read back as a list of members (``(name, bytes)`` pairs), changed, and
written again.  Items of a member list may also be raw ``bytes``: pre-built tar blocks
(links, devices, PAX records, ...) that are written verbatim.  ``write_members`` keeps
the real layout (head frame, payload frame, trailer frame) unless told otherwise, and can
re-compute the manifest's member digests so that only the intended defect remains.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import warnings
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import zstandard

from cloacina_build.format import manifest as mf
from cloacina_build.format.archive import DEFAULT_MTIME, END_OF_ARCHIVE, tar_member
from cloacina_build.project.fingerprint import workflow_fingerprint

BLOCK = 512
Item = tuple[str, bytes] | bytes


# ----------------------------------------------------------------- reading


def decompress(path: Path) -> bytes:
    """The whole decompressed tar stream of a (small, trusted) package."""
    with open(path, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(
            fh, read_across_frames=True).read()


def read_members(path: Path) -> list[tuple[str, bytes]]:
    """Every member of a real package, in order, as ``(name, data)``."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(decompress(path)), mode="r:") as tf:
        for info in tf:
            out.append((info.name, tf.extractfile(info).read()))
    return out


def get(members: Iterable[Item], name: str) -> bytes:
    for item in members:
        if isinstance(item, tuple) and item[0] == name:
            return item[1]
    raise KeyError(name)


def replace(members: list[Item], name: str, data: bytes, new_name: str | None = None
            ) -> list[Item]:
    """A copy of ``members`` with ``name`` given new data (and optionally a new name)."""
    out: list[Item] = []
    found = False
    for item in members:
        if isinstance(item, tuple) and item[0] == name:
            out.append((new_name or name, data))
            found = True
        else:
            out.append(item)
    if not found:
        raise KeyError(name)
    return out


def payload_name(members: Iterable[Item]) -> str:
    for item in members:
        if isinstance(item, tuple) and item[0].startswith(mf.PAYLOAD_DIR):
            return item[0]
    raise KeyError("payload")


def manifest_of(members: Iterable[Item]) -> dict[str, Any]:
    return json.loads(get(members, mf.MANIFEST))


# ----------------------------------------------------------------- tar blocks


def zstd(data: bytes, **kwargs) -> bytes:
    return zstandard.ZstdCompressor(**kwargs).compress(data)


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def special(name: str, kind: bytes, *, linkname: str = "", size: int = 0,
            fmt: int = tarfile.USTAR_FORMAT, **attrs) -> bytes:
    """A raw tar header of any type (link, device, fifo, directory, ...)."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, size
    info.mtime, info.mode = DEFAULT_MTIME, 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info.tobuf(fmt, "utf-8", "surrogateescape")


def raw_header(name: bytes, size: int, *, typeflag: bytes = b"0") -> bytes:
    """A USTAR header with an arbitrary byte-string name (no encoding, no checks)."""
    block = bytearray(BLOCK)
    block[0:len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"%011o\0" % DEFAULT_MTIME
    block[148:156] = b" " * 8
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def pax_record(key: str, value: str | bytes) -> bytes:
    """One ``"%d key=value\\n"`` record, with its self-including length."""
    body = key.encode() + b"=" + (value if isinstance(value, bytes) else value.encode())
    length = len(body) + 3
    while len(str(length).encode()) + 2 + len(body) != length:
        length = len(str(length).encode()) + 2 + len(body)
    return str(length).encode() + b" " + body + b"\n"


def pax_block(records: bytes | dict[str, str], name: str = "PaxHeader") -> bytes:
    """A PAX extended header (type 'x') carrying ``records``, padded."""
    if isinstance(records, dict):
        records = b"".join(pax_record(k, v) for k, v in records.items())
    return special(name, tarfile.XHDTYPE, size=len(records)) + pad(records)


def file_block(name: str, data: bytes) -> bytes:
    return tar_member(name, data, DEFAULT_MTIME)


# ----------------------------------------------------------------- writing


def _tar(items: Iterable[Item]) -> bytes:
    return b"".join(item if isinstance(item, bytes) else file_block(*item) for item in items)


def fix_manifest(members: list[Item], *, payload: bool = True) -> list[Item]:
    """Re-compute the size and sha256 of every listed member that is present (and the
    payload's own record), so only the defect a test put in remains."""
    manifest = manifest_of(members)
    present = {item[0]: item[1] for item in members if isinstance(item, tuple)}
    for entry in manifest["members"]:
        data = present.get(entry["path"])
        if data is not None:
            entry["size"], entry["sha256"] = len(data), mf.digest(data)
    pl = manifest["payload"]
    if payload and pl["path"] in present:
        pl["size"], pl["sha256"] = len(present[pl["path"]]), mf.digest(present[pl["path"]])
    return replace(members, mf.MANIFEST, mf.dumps(manifest))


def ascii_dumps(manifest: dict[str, Any]) -> bytes:
    """JSON with every non-ASCII character escaped: can carry lone surrogates."""
    return json.dumps(manifest, sort_keys=True, indent=2).encode("ascii") + b"\n"


def edit_manifest(members: list[Item], edit: Callable[[dict], Any], *,
                  refingerprint: bool = False,
                  dumps: Callable[[dict], bytes] = mf.dumps) -> list[Item]:
    """Apply ``edit`` to the parsed manifest (in place); optionally re-compute the
    workflow fingerprint so that it matches the edited tasks."""
    manifest = manifest_of(members)
    edit(manifest)
    if refingerprint:
        wf = manifest["workflow"]
        wf["fingerprint"] = workflow_fingerprint(wf["name"], wf["tasks"])
    return replace(members, mf.MANIFEST, dumps(manifest))


def write_members(path: Path, members: list[Item], *, fix: bool = False,
                  end: bytes = END_OF_ARCHIVE, tail: bytes = b"") -> Path:
    """Write a package from a member list.

    The first two items go in the head frame, the rest in the payload frame, and ``end``
    (the end-of-archive blocks, or anything else) in the trailer frame; ``tail`` is
    appended to the file uncompressed.  ``fix`` re-computes the manifest's digests.
    """
    if fix:
        members = fix_manifest(members)
    path = Path(path)
    head, rest = members[:2], members[2:]
    data = zstd(_tar(head))
    if rest:
        data += zstd(_tar(rest))
    if end:
        data += zstd(end)
    path.write_bytes(data + tail)
    return path


def raw_package(path: Path, tar_bytes: bytes, *, compress: bool = True) -> Path:
    """Arbitrary bytes as a package: compressed in one zstd frame unless told not to."""
    path = Path(path)
    path.write_bytes(zstd(tar_bytes) if compress else tar_bytes)
    return path


def bomb_frame(tar_prefix: bytes, zeros: int, chunk: int = 1 << 22) -> bytes:
    """One zstd frame of ``tar_prefix`` followed by ``zeros`` zero bytes, compressed as a
    stream (never all in memory)."""
    out = io.BytesIO()
    cctx = zstandard.ZstdCompressor(level=1)
    with cctx.stream_writer(out, closefd=False) as writer:
        writer.write(tar_prefix)
        block = b"\0" * chunk
        left = zeros
        while left > 0:
            writer.write(block[:min(left, chunk)])
            left -= chunk
    return out.getvalue()


# ----------------------------------------------------------------- wheels


def wheel_entries(wheel: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def _record_hash(data: bytes) -> str:
    return "sha256=" + urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(entries: list[tuple[zipfile.ZipInfo | str, bytes]], *,
               fix_record: bool = True) -> bytes:
    """A zip of ``entries`` (ZipInfo kept as given); with ``fix_record`` the RECORD is
    rewritten to match the other entries."""
    entries = [(zipfile.ZipInfo(i, (1980, 1, 1, 0, 0, 0)) if isinstance(i, str) else i, d)
               for i, d in entries]
    if fix_record:
        record = next(i.filename for i, _ in entries if i.filename.endswith(".dist-info/RECORD"))
        lines = [f"{i.filename},{_record_hash(d)},{len(d)}" for i, d in entries
                 if i.filename != record]
        text = ("\n".join(lines + [f"{record},,"]) + "\n").encode()
        entries = [(i, text if i.filename == record else d) for i, d in entries]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are wanted by some cases
        for info, data in entries:
            if info.compress_type == zipfile.ZIP_STORED and len(data) > 1024:
                info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def edit_wheel(members: list[Item], edit: Callable[[list], list], *,
               fix_record: bool = True) -> list[Item]:
    """Rebuild the payload wheel after ``edit(entries) -> entries``, then fix the
    manifest digests so the wheel's content is the only defect."""
    name = payload_name(members)
    entries = edit(wheel_entries(get(members, name)))
    wheel = make_wheel(entries, fix_record=fix_record)
    return fix_manifest(replace(members, name, wheel))
