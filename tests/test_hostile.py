"""Hostile packages: every one is built here, from the real data-pipeline package or from
scratch, and must be rejected with the finding code named beside it, by the library and by
``cloacinactl validate``; ``inspect`` may succeed or fail cleanly, never with a traceback.
Nothing may be written outside the validator's private temporary directory."""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from cloacina_build.errors import CloacinaError
from cloacina_build.format import manifest as mf
from cloacina_build.format.frames import walk_frames
from cloacina_build.format.limits import DEFAULT_LIMITS, GiB, KiB, Limits, MiB
from cloacina_build.ops.inspect import inspect_package
from cloacina_build.ops.validate import ValidationPolicy, validate_package

from .hostile import (
    END_OF_ARCHIVE,
    ascii_dumps,
    bomb_frame,
    edit_manifest,
    edit_wheel,
    file_block,
    fix_manifest,
    get,
    pad,
    pax_block,
    pax_record,
    payload_name,
    raw_header,
    raw_package,
    read_members,
    replace,
    special,
    write_members,
    zstd,
)

ESCAPE = "cloacina-hostile-escape.txt"   # what a '../' member would create if it escaped
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class Ctx:
    base: Path   # the pristine built package (shared: never modified)
    dir: Path    # where the hostile package is written

    @property
    def out(self) -> Path:
        return self.dir / "hostile.cloacina"

    def members(self):
        return read_members(self.base)

    def head_and_payload(self):
        members = self.members()
        return members[:2], members[2:]


def _with_extra(ctx: Ctx, *extra) -> Path:
    """The real package with raw tar blocks (or members) between the head and the payload."""
    head, rest = ctx.head_and_payload()
    return write_members(ctx.out, head + list(extra) + rest)


# ================================================================= archive level


def make_plain_tar(ctx):
    return raw_package(ctx.out, b"".join(file_block(n, d) for n, d in ctx.members())
                       + END_OF_ARCHIVE, compress=False)


def make_random_bytes(ctx):
    return raw_package(ctx.out, bytes(range(256)) * 16, compress=False)


def make_empty_file(ctx):
    return raw_package(ctx.out, b"", compress=False)


def make_zstd_magic_then_garbage(ctx):
    return raw_package(ctx.out, ZSTD_MAGIC + bytes(range(255, 0, -1)) * 8, compress=False)


def make_zstd_of_garbage(ctx):
    return raw_package(ctx.out, bytes((i * 7919 + 13) % 251 for i in range(4096)))


def _frames(path: Path):
    with open(path, "rb") as fh:
        return walk_frames(fh, path.stat().st_size)


def make_zstd_bit_flip(ctx):
    data = bytearray(ctx.base.read_bytes())
    payload = _frames(ctx.base)[1]
    data[payload.offset + payload.length // 2] ^= 0xFF
    return raw_package(ctx.out, bytes(data), compress=False)


def make_zstd_window_too_large(ctx):
    # A frame that needs a 64 MiB window: more than the reader's memory bound allows.
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=26)
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(
            buf, closefd=False) as writer:
        writer.write(b"".join(file_block(n, d) for n, d in ctx.members()) + END_OF_ARCHIVE)
    return raw_package(ctx.out, buf.getvalue(), compress=False)


def make_truncated_half(ctx):
    data = ctx.base.read_bytes()
    return raw_package(ctx.out, data[:len(data) // 2], compress=False)


def make_truncated_in_payload(ctx):
    payload = _frames(ctx.base)[1]
    data = ctx.base.read_bytes()[:payload.offset + payload.length // 2]
    return raw_package(ctx.out, data, compress=False)


def make_truncated_after_payload_frame(ctx):
    # Whole frames, but the trailer frame (with the end-of-archive blocks) is gone.
    trailer = _frames(ctx.base)[2]
    return raw_package(ctx.out, ctx.base.read_bytes()[:trailer.offset], compress=False)


def make_missing_end_of_archive(ctx):
    return write_members(ctx.out, ctx.members(), end=b"")


def make_half_end_of_archive(ctx):
    return write_members(ctx.out, ctx.members(), end=b"\0" * 512)


def make_data_after_end_of_archive(ctx):
    return write_members(ctx.out, ctx.members(),
                         end=END_OF_ARCHIVE + file_block("payload/smuggled.py", b"evil()\n"))


def make_frame_after_end_of_archive(ctx):
    extra = zstd(file_block("payload/smuggled.py", b"evil()\n") + END_OF_ARCHIVE)
    return raw_package(ctx.out, ctx.base.read_bytes() + extra, compress=False)


def make_garbage_after_last_frame(ctx):
    return raw_package(ctx.out, ctx.base.read_bytes() + b"PK\x03\x04 appended zip",
                       compress=False)


def make_bad_tar_checksum(ctx):
    head, rest = ctx.head_and_payload()
    block = bytearray(file_block(*rest[0]))
    block[0] ^= 0x20  # the name changes case: the stored checksum no longer matches
    return write_members(ctx.out, head + [bytes(block)])


def make_zstd_empty_block_flood(ctx):
    """A head frame whose content follows 200,000 empty raw blocks: each is 3 bytes, no
    compressor writes one, and walking a flood of them used to cost seconds per command."""
    head, rest = ctx.head_and_payload()
    tar = b"".join(file_block(n, d) for n, d in head)
    blocks = b"\x00\x00\x00" * 200_000  # raw, size 0, not last
    last = (len(tar) << 3 | 1).to_bytes(3, "little")  # raw, last
    frame = ZSTD_MAGIC + bytes([0x00, 0x58]) + blocks + last + tar  # window 1 MiB, no FCS
    rest_frames = write_members(ctx.dir / "rest.tmp", [("a", b""), ("b", b"")] + rest)
    tail = rest_frames.read_bytes()[len(zstd(file_block("a", b"") + file_block("b", b""))):]
    rest_frames.unlink()
    return raw_package(ctx.out, frame + tail, compress=False)


def make_contiguous_file_member(ctx):
    return _with_extra(ctx, special("payload/contiguous", tarfile.CONTTYPE))


# ================================================================= member types


def make_symlink_member(ctx):
    return _with_extra(ctx, special("payload/link", tarfile.SYMTYPE, linkname="/etc/passwd"))


def make_hardlink_member(ctx):
    return _with_extra(ctx, special("payload/hard", tarfile.LNKTYPE,
                                    linkname="package.toml"))


def make_char_device(ctx):
    return _with_extra(ctx, special("payload/null", tarfile.CHRTYPE, devmajor=1, devminor=3))


def make_block_device(ctx):
    return _with_extra(ctx, special("payload/sda", tarfile.BLKTYPE, devmajor=8, devminor=0))


def make_fifo(ctx):
    return _with_extra(ctx, special("payload/fifo", tarfile.FIFOTYPE))


def make_directory_member(ctx):
    return _with_extra(ctx, special("payload/", tarfile.DIRTYPE))


def make_gnu_longname(ctx):
    return _with_extra(ctx, special("payload/" + "n" * 120, tarfile.REGTYPE,
                                    fmt=tarfile.GNU_FORMAT))


def make_global_pax_header(ctx):
    records = pax_record("comment", "global")
    return _with_extra(ctx, special("pax_global_header", tarfile.XGLTYPE,
                                    size=len(records)) + pad(records))


def make_unknown_type(ctx):
    return _with_extra(ctx, raw_header(b"payload/odd", 0, typeflag=b"Z"))


# ================================================================= member names


def _named(name: str, data: bytes = b"x = 1\n"):
    return lambda ctx: _with_extra(ctx, file_block(name, data) if name.isascii()
                                   and len(name) < 100 else _pax_named(name, data))


def _pax_named(name: str, data: bytes) -> bytes:
    return pax_block({"path": name}) + file_block("payload/placeholder", data)


make_absolute_name = _named("/etc/cron.d/evil")
make_parent_escape = _named("../" + ESCAPE)
make_parent_deep = _named("payload/../../" + ESCAPE)
make_backslash_name = _named("payload\\..\\..\\" + ESCAPE)
make_drive_letter = _named("C:/Windows/evil.dll")
make_dot_prefix = _named("./payload/x.py")
make_double_slash = _named("payload//x.py")
make_trailing_slash_file = _named("payload/x/")
make_nfd_name = _named("payload/caf\u0065\u0301.py")
make_control_char = _named("payload/a\nb.py")
make_escape_sequence_name = _named("payload/\x1b[2Jclear.py")
make_too_long_name = _named("payload/" + "x" * 300)


def make_pax_path_parent(ctx):  # a harmless ustar name, overridden by a PAX 'path' record
    return _with_extra(ctx, _pax_named("../../" + ESCAPE, b"evil()\n"))


def make_empty_name(ctx):
    return _with_extra(ctx, raw_header(b"", 0))


def make_non_utf8_name(ctx):
    return _with_extra(ctx, raw_header(b"payload/\xff\xfe.py", 0))


def make_duplicate_payload(ctx):
    members = ctx.members()
    name = payload_name(members)
    return write_members(ctx.out, members + [(name, b"PK\x05\x06" + b"\0" * 18)])


def make_duplicate_package_toml(ctx):
    return _with_extra(ctx, file_block("package.toml", b"[package]\nname = 'evil'\n"))


def make_case_collision_toml(ctx):
    return _with_extra(ctx, file_block("Package.toml", b"[package]\nname = 'evil'\n"))


def make_case_collision_payload(ctx):
    members = ctx.members()
    name = payload_name(members)
    twin = "payload/" + name[len("payload/"):].upper()
    return write_members(ctx.out, members + [(twin, get(members, name))])


# ================================================================= member order


def make_manifest_first(ctx):
    m = ctx.members()
    return write_members(ctx.out, [m[1], m[0]] + m[2:])


def make_package_toml_missing(ctx):
    m = ctx.members()
    return write_members(ctx.out, m[1:])


def make_payload_first(ctx):
    m = ctx.members()
    return write_members(ctx.out, [m[2], m[0], m[1]])


def make_head_only_toml(ctx):
    return write_members(ctx.out, ctx.members()[:1])


def make_signature_before_payload(ctx):
    head, rest = ctx.head_and_payload()
    sig = ("signatures/key.json", b'{"key_id": "k", "signature": "AAAA"}\n')
    return write_members(ctx.out, head + [sig] + rest)


def make_signature_not_json(ctx):
    return write_members(ctx.out, ctx.members(),
                         end=file_block("signatures/key.json", b"{not json") + END_OF_ARCHIVE)


def make_signature_flood(ctx):
    """65 records in the trailer (one over the limit): each is read only after the count is
    checked, so a flood of them costs nothing (it used to cost 1 GiB of memory)."""
    records = b"".join(file_block(f"signatures/{i:064x}.json", b"{}") for i in range(65))
    return write_members(ctx.out, ctx.members(), end=records + END_OF_ARCHIVE)


def make_signature_record_too_large(ctx):
    record = b'{"comment": "' + b"x" * (200 * 1024) + b'"}'
    return write_members(ctx.out, ctx.members(),
                         end=file_block("signatures/" + "0" * 64 + ".json", record)
                         + END_OF_ARCHIVE)


# ================================================================= limits


def make_too_many_members(ctx):
    extra = [(f"payload/f{i:04d}", b"") for i in range(300)]
    return write_members(ctx.out, ctx.members() + extra)


def make_member_size_declared_huge(ctx):
    # A header that declares 3 GiB and carries nothing: rejected before any data is read.
    return _with_extra(ctx, special("payload/huge.bin", tarfile.REGTYPE, size=3 * GiB))


def make_pax_size_60k_digits(ctx):
    # Python refuses int() of more than 4300 digits: such a size must not crash the reader.
    return _with_extra(ctx, pax_block({"size": "9" * 60_000})
                       + file_block("payload/huge.bin", b""))


def make_negative_size(ctx):
    header = bytearray(raw_header(b"payload/negative.bin", 0))
    header[124:136] = b"\xff" * 12  # base-256 encoding of -1
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return _with_extra(ctx, bytes(header) + b"A" * 1024)


def make_pax_size_huge(ctx):
    return _with_extra(ctx, pax_block({"size": str(10 ** 12)})
                       + file_block("payload/huge.bin", b""))


@functools.lru_cache(maxsize=1)
def _bomb_frame() -> bytes:
    size = 200 * MiB
    return bomb_frame(special("payload/bomb.bin", tarfile.REGTYPE, size=size), size)


def make_decompression_bomb(ctx):
    # 200 MiB of zeros in a few KiB: the ratio bound trips after the 16 MiB grace.
    m = ctx.members()
    head = zstd(b"".join(file_block(n, d) for n, d in m[:2]))
    tail = zstd(b"".join(file_block(n, d) for n, d in m[2:]) + END_OF_ARCHIVE)
    return raw_package(ctx.out, head + _bomb_frame() + tail, compress=False)


def make_package_toml_2mib(ctx):
    members = ctx.members()
    toml = get(members, "package.toml") + b"#" + b"x" * (2 * MiB) + b"\n"
    return write_members(ctx.out, replace(members, "package.toml", toml), fix=True)


def make_manifest_over_limit(ctx):
    """One byte past the default manifest limit (sized for rulebook.MAX_TASKS tasks)."""
    members = ctx.members()
    data = get(members, mf.MANIFEST).rstrip(b"\n")
    data += b" " * (DEFAULT_LIMITS.max_manifest_size - len(data)) + b"\n"
    return write_members(ctx.out, replace(members, mf.MANIFEST, data))


def make_pax_header_too_large(ctx):
    return _with_extra(ctx, pax_block({"comment": "x" * (70 * KiB)})
                       + file_block("payload/x.py", b""))


# ================================================================= PAX records


def make_two_pax_headers(ctx):
    return _with_extra(ctx, pax_block({"comment": "a"}) + pax_block({"comment": "b"})
                       + file_block("payload/x.py", b""))


def make_malformed_pax(ctx):
    return _with_extra(ctx, pax_block(b"99 path=oops\n") + file_block("payload/x.py", b""))


def make_pax_size_not_decimal(ctx):
    # '²' passes str.isdigit() but is no number: a parser that trusts isdigit() crashes.
    return _with_extra(ctx, pax_block({"size": "\u00b2"}) + file_block("payload/x.py", b""))


def make_pax_size_garbage(ctx):
    # Other readers take a bad PAX size as 0 or refuse: never silently use the header's.
    return _with_extra(ctx, pax_block({"size": "12abc"}) + file_block("payload/x.py", b"y"))


# ================================================================= metadata syntax and schema


def _toml(text: bytes):
    def make(ctx):
        members = ctx.members()
        return write_members(ctx.out, replace(members, "package.toml", text), fix=True)
    return make


def _manifest_bytes(data: bytes):
    def make(ctx):
        return write_members(ctx.out, replace(ctx.members(), mf.MANIFEST, data))
    return make


def _manifest_edit(edit, *, refingerprint=False, dumps=mf.dumps):
    def make(ctx):
        return write_members(ctx.out, edit_manifest(ctx.members(), edit,
                                                    refingerprint=refingerprint, dumps=dumps))
    return make


make_manifest_not_json = _manifest_bytes(b"{this is not json\n")
make_manifest_json_array = _manifest_bytes(b"[1, 2, 3]\n")
make_manifest_not_utf8 = _manifest_bytes(b'{"format": "\xff\xfe"}\n')
make_manifest_deep_nesting = _manifest_bytes(b"[" * 200_000 + b"]" * 200_000)


def _lone_surrogates(m):
    m["package"]["description"] = "\ud800 unpaired"
    m["workflow"]["tasks"][0]["source"]["file"] = "\udcff.py"


make_manifest_lone_surrogate = _manifest_edit(_lone_surrogates, dumps=ascii_dumps)
make_manifest_unknown_key = _manifest_edit(lambda m: m.update(extra_code="import os"))
make_manifest_wrong_type = _manifest_edit(lambda m: m.update(members="all of them"))
make_manifest_tasks_wrong_type = _manifest_edit(
    lambda m: m["workflow"].update(tasks={"collect_data": {}}))
make_manifest_triggers_not_objects = _manifest_edit(
    lambda m: m["workflow"].update(triggers=[1, "two"], params=[None]))
make_manifest_tags_not_strings = _manifest_edit(
    lambda m: m["payload"].update(tags=[1, None]))
make_manifest_payload_escapes = _manifest_edit(
    lambda m: m["payload"].update(path="payload/../../" + ESCAPE))
make_manifest_bad_requires_python = _manifest_edit(
    lambda m: m["package"].update(requires_python="not a specifier ~~"))

make_package_toml_invalid = _toml(b"[package\nname = = 'x'\n")
make_package_toml_not_utf8 = _toml(b"[package]\nname = '\xff'\n")
make_package_toml_deep_nesting = _toml(b"a = " + b"[" * 50_000 + b"]" * 50_000 + b"\n")
make_package_toml_lone_surrogate = _toml(
    b'[package]\nname = "data-pipeline"\nversion = "1.0.0"\nx = "\\ud800"\n')


def make_package_toml_unknown_key(ctx):
    members = ctx.members()
    toml = get(members, "package.toml") + b"\n[hooks]\npost_install = 'rm -rf /'\n"
    return write_members(ctx.out, replace(members, "package.toml", toml), fix=True)


# ================================================================= digests and members


def make_payload_byte_flipped(ctx):
    members = ctx.members()
    name = payload_name(members)
    data = bytearray(get(members, name))
    data[len(data) // 2] ^= 0x01
    return write_members(ctx.out, replace(members, name, bytes(data)))


def make_payload_truncated(ctx):
    members = ctx.members()
    name = payload_name(members)
    return write_members(ctx.out, replace(members, name, get(members, name)[:-100]))


def make_package_toml_edited(ctx):
    members = ctx.members()
    toml = get(members, "package.toml").replace(b"Demo Team", b"Evil Team")
    return write_members(ctx.out, replace(members, "package.toml", toml))


def make_payload_missing(ctx):
    return write_members(ctx.out, ctx.members()[:2])


def make_listed_member_missing(ctx):
    def edit(m):
        m["members"].append({"path": "payload/extra.txt", "size": 1, "sha256": "0" * 64})
    return write_members(ctx.out, edit_manifest(ctx.members(), edit))


def make_unlisted_member(ctx):
    return write_members(ctx.out, ctx.members() + [("payload/extra.py", b"import os\n")])


def make_trailer_foreign_member(ctx):
    return write_members(ctx.out, ctx.members(),
                         end=file_block("payload/late.py", b"evil()\n") + END_OF_ARCHIVE)


def make_manifest_lists_itself(ctx):
    def edit(m):
        m["members"].append({"path": mf.MANIFEST, "size": 1, "sha256": "0" * 64})
    return write_members(ctx.out, edit_manifest(ctx.members(), edit))


def make_metadata_mismatch(ctx):
    members = ctx.members()
    toml = get(members, "package.toml").replace(b'name = "data-pipeline"',
                                                b'name = "other-pipeline"')
    return write_members(ctx.out, replace(members, "package.toml", toml), fix=True)


def make_entry_module_mismatch(ctx):
    members = ctx.members()
    toml = get(members, "package.toml").replace(b'entry_module = "data_pipeline.tasks"',
                                                b'entry_module = "os"')
    return write_members(ctx.out, replace(members, "package.toml", toml), fix=True)


def make_payload_identity(ctx):
    members = ctx.members()
    old = payload_name(members)
    new = "payload/evil_pkg-6.6.6-py3-none-any.whl"

    def edit(m):
        m["payload"].update(path=new, filename=new[len("payload/"):])
        for entry in m["members"]:
            if entry["path"] == old:
                entry["path"] = new
    members = edit_manifest(replace(members, old, get(members, old), new_name=new), edit)
    return write_members(ctx.out, members, fix=True)


make_payload_tags = _manifest_edit(
    lambda m: m["payload"].update(tags=["cp311-cp311-manylinux_2_17_x86_64"]))
make_payload_name_mismatch = _manifest_edit(
    lambda m: m["payload"].update(filename="other-1.0.0-py3-none-any.whl"))
make_payload_record_unlisted = _manifest_edit(lambda m: m["payload"].update(size=1))


# ================================================================= the wheel


def _wheel(edit, *, fix_record=True):
    def make(ctx):
        return write_members(ctx.out, edit_wheel(ctx.members(), edit, fix_record=fix_record))
    return make


def _payload_bytes(make_bytes):
    def make(ctx):
        members = ctx.members()
        name = payload_name(members)
        members = fix_manifest(replace(members, name, make_bytes(get(members, name))))
        return write_members(ctx.out, members)
    return make


def _tamper(entries, filename, change):
    return [(i, change(d) if i.filename == filename else d) for i, d in entries]


def _zinfo(name, mode=0o100644, compress=zipfile.ZIP_DEFLATED):
    info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = compress
    return info


make_wheel_not_zip = _payload_bytes(lambda _: b"this is not a zip file\n" * 10)
make_wheel_truncated = _payload_bytes(lambda w: w[: len(w) // 2])
make_wheel_record_tampered = _wheel(
    lambda e: _tamper(e, "data_pipeline/__init__.py", lambda d: d + b"import os\n"),
    fix_record=False)
make_wheel_record_unlisted = _wheel(
    lambda e: e + [(_zinfo("data_pipeline/backdoor.py"), b"import os\n")], fix_record=False)
make_wheel_parent_entry = _wheel(lambda e: e + [(_zinfo("../" + ESCAPE), b"evil()\n")])
make_wheel_absolute_entry = _wheel(lambda e: e + [(_zinfo("/tmp/" + ESCAPE), b"evil()\n")])
make_wheel_backslash_entry = _wheel(
    lambda e: e + [(_zinfo("..\\..\\" + ESCAPE), b"evil()\n")])
make_wheel_duplicate_entry = _wheel(
    lambda e: e + [(_zinfo("data_pipeline/tasks.py"), b"evil()\n")])
make_wheel_case_collision = _wheel(
    lambda e: e + [(_zinfo("data_pipeline/TASKS.py"), b"evil()\n")])
make_wheel_symlink_entry = _wheel(
    lambda e: e + [(_zinfo("data_pipeline/link.py", mode=0o120777), b"/etc/passwd")])
make_wheel_zip_bomb = _wheel(
    lambda e: e + [(_zinfo("data_pipeline/bomb.bin"), b"\0" * (10 * MiB))])


def _encrypted(entries):
    out = []
    for info, data in entries:
        if info.filename == "data_pipeline/tasks.py":
            info.flag_bits |= 0x1
        out.append((info, data))
    return out


def _patch_central_flags(wheel: bytes, filename: bytes, *, flag: int = 0,
                         method: int | None = None) -> bytes:
    """Set a general-purpose flag bit (or a compression method) on one entry, in both
    its local and central headers."""
    data = bytearray(wheel)
    for sig, flag_at, method_at, name_len_at, name_at in (
            (b"PK\x03\x04", 6, 8, 26, 30), (b"PK\x01\x02", 8, 10, 28, 46)):
        pos = 0
        while (pos := data.find(sig, pos)) >= 0:
            n = int.from_bytes(data[pos + name_len_at:pos + name_len_at + 2], "little")
            if bytes(data[pos + name_at:pos + name_at + n]) == filename:
                flags = int.from_bytes(data[pos + flag_at:pos + flag_at + 2], "little")
                data[pos + flag_at:pos + flag_at + 2] = (flags | flag).to_bytes(2, "little")
                if method is not None:
                    data[pos + method_at:pos + method_at + 2] = method.to_bytes(2, "little")
            pos += 4
    return bytes(data)


def _corrupt_entry_data(wheel: bytes, filename: bytes) -> bytes:
    """Overwrite the start of one entry's deflate stream (sizes and CRC left alone):
    0xFF is a block of the reserved type 3, which no inflater accepts."""
    data = bytearray(wheel)
    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) >= 0:
        n, extra = (int.from_bytes(data[pos + at:pos + at + 2], "little") for at in (26, 28))
        if bytes(data[pos + 30:pos + 30 + n]) == filename:
            start = pos + 30 + n + extra
            data[start:start + 4] = b"\xff" * 4
            return bytes(data)
        pos += 4
    raise KeyError(filename)


make_wheel_corrupt_deflate = _payload_bytes(
    lambda w: _corrupt_entry_data(w, b"data_pipeline/tasks.py"))
make_wheel_encrypted_entry = _payload_bytes(
    lambda w: _patch_central_flags(w, b"data_pipeline/tasks.py", flag=0x1))
make_wheel_unknown_compression = _payload_bytes(
    lambda w: _patch_central_flags(w, b"data_pipeline/tasks.py", method=99))


# What the loader's install step (installer) needs: issue 9, "validates but cannot be
# installed". The names follow the pristine wheel, data_pipeline-1.0.0-py3-none-any.whl.
DIST_INFO = "data_pipeline-1.0.0.dist-info"
DATA_DIR = "data_pipeline-1.0.0.data"


def _add(name, data):
    return _wheel(lambda e: e + [(_zinfo(name), data)])


def _set(name, data):
    return _wheel(lambda e: _tamper(e, f"{DIST_INFO}/{name}", lambda _d: data))


def _drop(name):
    return _wheel(lambda e: [(i, d) for i, d in e if i.filename != f"{DIST_INFO}/{name}"])


def _record_plus(line):
    return _wheel(lambda e: _tamper(e, f"{DIST_INFO}/RECORD", lambda d: d + line),
                  fix_record=False)


_ENTRY_POINTS = f"{DIST_INFO}/entry_points.txt"
make_wheel_data_dir_is_file = _add(DATA_DIR, b"not a directory\n")  # installer loops
make_wheel_data_scheme_is_file = _add(f"{DATA_DIR}/purelib", b"x = 1\n")
make_wheel_data_unknown_scheme = _add(f"{DATA_DIR}/lib/evil.py", b"evil()\n")
make_wheel_version_2 = _set("WHEEL", b"Wheel-Version: 2.0\nRoot-Is-Purelib: true\n"
                                     b"Tag: py3-none-any\n")
make_wheel_version_absent = _set("WHEEL", b"Root-Is-Purelib: true\nTag: py3-none-any\n")
make_wheel_wheel_file_missing = _drop("WHEEL")
make_wheel_metadata_latin1 = _set("METADATA", b"Metadata-Version: 2.1\nName: data-pipeline"
                                              b"\nVersion: 1.0.0\nAuthor: Ren\xe9\n")
make_wheel_metadata_garbage = _set("METADATA", b"\x00\x01 this is not metadata\n")
make_wheel_metadata_other_name = _set("METADATA", b"Metadata-Version: 2.1\nName: other\n"
                                                  b"Version: 1.0.0\n")
make_wheel_entry_points_garbage = _add(_ENTRY_POINTS, b"console_scripts = yes\n[[[\n")
make_wheel_entry_point_value = _add(_ENTRY_POINTS, b"[console_scripts]\ntool = not valid!\n")
make_wheel_entry_point_parent = _add(
    _ENTRY_POINTS, b"[console_scripts]\n../../" + ESCAPE.encode() + b" = data_pipeline:main\n")
make_wheel_entry_point_slash = _add(_ENTRY_POINTS,
                                    b"[gui_scripts]\nsub/tool = data_pipeline:main\n")
make_wheel_record_dangling = _record_plus(b"data_pipeline/ghost.py,sha256=AAAA,10\n")
make_wheel_two_dist_infos = _add("other-1.0.dist-info/METADATA", b"Name: other\n")
make_wheel_install_collision = _add(f"{DATA_DIR}/purelib/data_pipeline/tasks.py", b"x = 1\n")

INSTALL_CASES = [
    ("wheel-data-dir-is-a-file", make_wheel_data_dir_is_file, "wheel-data-dir"),
    ("wheel-data-scheme-is-a-file", make_wheel_data_scheme_is_file, "wheel-data-dir"),
    ("wheel-data-unknown-scheme", make_wheel_data_unknown_scheme, "wheel-data-scheme"),
    ("wheel-version-2", make_wheel_version_2, "wheel-version-unsupported"),
    ("wheel-version-absent", make_wheel_version_absent, "wheel-version-missing"),
    ("wheel-wheel-file-missing", make_wheel_wheel_file_missing, "wheel-version-missing"),
    ("wheel-metadata-not-utf8", make_wheel_metadata_latin1, "wheel-metadata-encoding"),
    ("wheel-metadata-garbage", make_wheel_metadata_garbage, "wheel-metadata-invalid"),
    ("wheel-metadata-other-name", make_wheel_metadata_other_name, "wheel-metadata-invalid"),
    ("wheel-entry-points-garbage", make_wheel_entry_points_garbage,
     "wheel-entry-points-syntax"),
    ("wheel-entry-point-bad-value", make_wheel_entry_point_value,
     "wheel-entry-points-syntax"),
    ("wheel-entry-point-parent", make_wheel_entry_point_parent, "wheel-entry-point-name"),
    ("wheel-entry-point-slash", make_wheel_entry_point_slash, "wheel-entry-point-name"),
    ("wheel-record-dangling", make_wheel_record_dangling, "wheel-record-dangling"),
    ("wheel-two-dist-infos", make_wheel_two_dist_infos, "wheel-dist-info"),
    ("wheel-install-collision", make_wheel_install_collision, "wheel-install-collision"),
]


def _edit_task_source(entries):
    return _tamper(entries, "data_pipeline/tasks.py",
                   lambda d: d.replace(b'"success_rate": "95%"', b'"success_rate": "100%"'))


make_tasks_drift = _wheel(_edit_task_source)
make_tasks_entry_missing = _wheel(
    lambda e: [(i, d) for i, d in e if i.filename != "data_pipeline/tasks.py"])
make_tasks_syntax_error = _wheel(
    lambda e: _tamper(e, "data_pipeline/tasks.py", lambda d: d + b"\ndef broken(:\n"))


# ================================================================= the workflow graph


def _cycle(m):
    for task in m["workflow"]["tasks"]:
        if task["id"] == "collect_data":
            task["dependencies"] = ["generate_report"]


def _unknown_dep(m):
    m["workflow"]["tasks"][0]["dependencies"] = ["no_such_task"]


make_graph_cycle = _manifest_edit(_cycle, refingerprint=True)
make_graph_unknown_dependency = _manifest_edit(_unknown_dep, refingerprint=True)
make_graph_cycle_stale_fingerprint = _manifest_edit(_cycle)
make_workflow_fingerprint_stale = _manifest_edit(
    lambda m: m["workflow"].update(fingerprint="0" * 64))


def make_pristine(ctx):
    return write_members(ctx.out, ctx.members())


# ================================================================= the cases

# (defect, how to make it, the finding code it must produce); all under default limits.
CASES = [
    # not a package at all, or broken compression
    ("not-zstd-plain-tar", make_plain_tar, "archive-not-zstd"),
    ("not-zstd-random-bytes", make_random_bytes, "archive-not-zstd"),
    ("empty-file", make_empty_file, "archive-not-zstd"),
    ("zstd-magic-then-garbage", make_zstd_magic_then_garbage, "archive-corrupt"),
    ("zstd-of-garbage", make_zstd_of_garbage, "archive-corrupt"),
    ("zstd-bit-flip-in-payload-frame", make_zstd_bit_flip, "archive-corrupt"),
    ("zstd-window-too-large", make_zstd_window_too_large, "archive-corrupt"),
    ("bad-tar-header-checksum", make_bad_tar_checksum, "archive-corrupt"),
    ("negative-member-size", make_negative_size, "archive-corrupt"),
    ("garbage-after-last-frame", make_garbage_after_last_frame, "archive-corrupt"),
    ("zstd-empty-block-flood", make_zstd_empty_block_flood, "archive-corrupt"),
    # truncation and the end of the archive
    ("truncated-half", make_truncated_half, "archive-truncated"),
    ("truncated-in-payload", make_truncated_in_payload, "archive-truncated"),
    ("truncated-trailer-frame-gone", make_truncated_after_payload_frame,
     "archive-truncated"),
    ("missing-end-of-archive", make_missing_end_of_archive, "archive-truncated"),
    ("half-end-of-archive", make_half_end_of_archive, "archive-truncated"),
    ("data-after-end-of-archive", make_data_after_end_of_archive, "archive-trailing-data"),
    ("frame-after-end-of-archive", make_frame_after_end_of_archive,
     "archive-trailing-data"),
    # member types
    ("symlink-member", make_symlink_member, "member-type"),
    ("hardlink-member", make_hardlink_member, "member-type"),
    ("char-device-member", make_char_device, "member-type"),
    ("block-device-member", make_block_device, "member-type"),
    ("fifo-member", make_fifo, "member-type"),
    ("contiguous-file-member", make_contiguous_file_member, "member-type"),
    ("directory-member", make_directory_member, "member-type"),
    ("gnu-longname-record", make_gnu_longname, "member-type"),
    ("global-pax-header", make_global_pax_header, "member-type"),
    ("unknown-member-type", make_unknown_type, "member-type"),
    # member names
    ("absolute-name", make_absolute_name, "member-name-absolute"),
    ("parent-escape", make_parent_escape, "member-name-parent"),
    ("parent-escape-deep", make_parent_deep, "member-name-parent"),
    ("pax-path-parent", make_pax_path_parent, "member-name-parent"),
    ("backslash-name", make_backslash_name, "member-name-backslash"),
    ("drive-letter-name", make_drive_letter, "member-name-drive"),
    ("duplicate-payload", make_duplicate_payload, "member-name-duplicate"),
    ("duplicate-package-toml", make_duplicate_package_toml, "member-name-duplicate"),
    ("case-collision-package-toml", make_case_collision_toml, "member-name-case-collision"),
    ("case-collision-payload", make_case_collision_payload, "member-name-case-collision"),
    ("dot-prefix-name", make_dot_prefix, "member-name-not-normalised"),
    ("double-slash-name", make_double_slash, "member-name-not-normalised"),
    ("trailing-slash-file", make_trailing_slash_file, "member-name-not-normalised"),
    ("nfd-unicode-name", make_nfd_name, "member-name-not-normalised"),
    ("control-char-name", make_control_char, "member-name-control"),
    ("terminal-escape-name", make_escape_sequence_name, "member-name-control"),
    ("too-long-name", make_too_long_name, "member-name-too-long"),
    ("empty-name", make_empty_name, "member-name-empty"),
    ("non-utf8-name", make_non_utf8_name, "member-name-encoding"),
    # member order
    ("manifest-first", make_manifest_first, "member-order"),
    ("package-toml-missing", make_package_toml_missing, "member-order"),
    ("payload-first", make_payload_first, "member-order"),
    ("head-without-manifest", make_head_only_toml, "member-order"),
    ("signature-before-payload", make_signature_before_payload, "member-order"),
    ("signature-not-json", make_signature_not_json, "signature-malformed"),
    ("signature-flood", make_signature_flood, "limit-signatures"),
    ("signature-record-too-large", make_signature_record_too_large, "limit-signature-size"),
    # limits (default limits: every one of these is cheap)
    ("too-many-members", make_too_many_members, "limit-member-count"),
    ("member-declares-3gib", make_member_size_declared_huge, "limit-member-size"),
    ("pax-size-1tb", make_pax_size_huge, "limit-member-size"),
    ("pax-size-60k-digits", make_pax_size_60k_digits, "limit-member-size"),
    ("decompression-bomb", make_decompression_bomb, "limit-compression-ratio"),
    ("package-toml-2mib", make_package_toml_2mib, "limit-metadata-size"),
    ("manifest-over-limit", make_manifest_over_limit, "limit-metadata-size"),
    ("pax-header-70kib", make_pax_header_too_large, "limit-metadata-size"),
    # PAX records
    ("two-pax-headers", make_two_pax_headers, "archive-corrupt"),
    ("malformed-pax-record", make_malformed_pax, "archive-corrupt"),
    ("pax-size-superscript-digit", make_pax_size_not_decimal, "archive-corrupt"),
    ("pax-size-garbage", make_pax_size_garbage, "archive-corrupt"),
    # metadata syntax and schema
    ("manifest-not-json", make_manifest_not_json, "manifest-syntax"),
    ("manifest-json-array", make_manifest_json_array, "manifest-syntax"),
    ("manifest-not-utf8", make_manifest_not_utf8, "manifest-syntax"),
    ("manifest-deep-nesting", make_manifest_deep_nesting, "manifest-syntax"),
    ("manifest-lone-surrogate", make_manifest_lone_surrogate, "manifest-syntax"),
    ("manifest-unknown-key", make_manifest_unknown_key, "schema-manifest"),
    ("manifest-wrong-type", make_manifest_wrong_type, "schema-manifest"),
    ("manifest-tasks-wrong-type", make_manifest_tasks_wrong_type, "schema-manifest"),
    ("manifest-triggers-not-objects", make_manifest_triggers_not_objects, "schema-manifest"),
    ("manifest-tags-not-strings", make_manifest_tags_not_strings, "schema-manifest"),
    ("manifest-payload-path-escapes", make_manifest_payload_escapes, "schema-manifest"),
    ("manifest-bad-requires-python", make_manifest_bad_requires_python, "schema-manifest"),
    ("package-toml-invalid", make_package_toml_invalid, "package-toml-syntax"),
    ("package-toml-not-utf8", make_package_toml_not_utf8, "package-toml-syntax"),
    ("package-toml-deep-nesting", make_package_toml_deep_nesting, "package-toml-syntax"),
    ("package-toml-lone-surrogate", make_package_toml_lone_surrogate,
     "package-toml-syntax"),
    ("package-toml-unknown-key", make_package_toml_unknown_key, "schema-package-toml"),
    # digests, listed and unlisted members, consistency
    ("payload-byte-flipped", make_payload_byte_flipped, "digest-mismatch"),
    ("payload-truncated", make_payload_truncated, "digest-size-mismatch"),
    ("package-toml-edited", make_package_toml_edited, "digest-mismatch"),
    ("payload-missing", make_payload_missing, "member-missing"),
    ("listed-member-missing", make_listed_member_missing, "member-missing"),
    ("unlisted-member", make_unlisted_member, "member-unlisted"),
    ("trailer-foreign-member", make_trailer_foreign_member, "member-unlisted"),
    ("manifest-lists-itself", make_manifest_lists_itself, "member-listed-manifest"),
    ("metadata-name-mismatch", make_metadata_mismatch, "metadata-mismatch"),
    ("metadata-entry-module-mismatch", make_entry_module_mismatch, "metadata-mismatch"),
    ("payload-identity", make_payload_identity, "payload-identity"),
    ("payload-tags", make_payload_tags, "payload-tags"),
    ("payload-name-mismatch", make_payload_name_mismatch, "payload-name"),
    ("payload-record-unlisted", make_payload_record_unlisted, "payload-unlisted"),
    # the wheel
    ("wheel-not-zip", make_wheel_not_zip, "wheel-bad-zip"),
    ("wheel-truncated", make_wheel_truncated, "wheel-bad-zip"),
    ("wheel-encrypted-entry", make_wheel_encrypted_entry, "wheel-bad-zip"),
    ("wheel-unknown-compression", make_wheel_unknown_compression, "wheel-bad-zip"),
    ("wheel-corrupt-deflate", make_wheel_corrupt_deflate, "wheel-bad-zip"),
    ("wheel-record-tampered-file", make_wheel_record_tampered, "wheel-record"),
    ("wheel-record-unlisted-file", make_wheel_record_unlisted, "wheel-record"),
    ("wheel-parent-entry", make_wheel_parent_entry, "wheel-member-name-parent"),
    ("wheel-absolute-entry", make_wheel_absolute_entry, "wheel-member-name-absolute"),
    ("wheel-backslash-entry", make_wheel_backslash_entry, "wheel-member-name-backslash"),
    ("wheel-duplicate-entry", make_wheel_duplicate_entry, "wheel-member-name-duplicate"),
    ("wheel-case-collision", make_wheel_case_collision, "wheel-member-name-case-collision"),
    ("wheel-symlink-entry", make_wheel_symlink_entry, "wheel-member-type"),
    ("wheel-zip-bomb", make_wheel_zip_bomb, "wheel-limit-ratio"),
    *INSTALL_CASES,
    ("tasks-drift", make_tasks_drift, "tasks-drift"),
    ("tasks-entry-missing", make_tasks_entry_missing, "tasks-entry-missing"),
    ("tasks-source-syntax-error", make_tasks_syntax_error, "tasks-rediscovery"),
    # the workflow graph
    ("graph-cycle", make_graph_cycle, "graph-cycle"),
    ("graph-unknown-dependency", make_graph_unknown_dependency, "graph-unknown-dependency"),
    ("graph-cycle-stale-fingerprint", make_graph_cycle_stale_fingerprint,
     "workflow-fingerprint"),
    ("workflow-fingerprint-stale", make_workflow_fingerprint_stale, "workflow-fingerprint"),
]

# Limits that would need huge inputs by default, checked with small custom limits
# (library only: the CLI always uses the default limits).
LIMIT_CASES = [
    ("total-size-over-limit", make_pristine, "limit-total-size",
     Limits(max_total_size=4 * KiB)),
    ("compression-ratio-over-limit", make_pristine, "limit-compression-ratio",
     Limits(max_ratio=1.5, ratio_grace=0)),
    ("member-count-over-limit", make_pristine, "limit-member-count", Limits(max_members=2)),
    ("member-size-over-limit", make_pristine, "limit-member-size",
     Limits(max_member_size=1 * KiB)),
    ("metadata-size-over-limit", make_pristine, "limit-metadata-size",
     Limits(max_metadata_size=64)),
    ("manifest-size-over-limit", make_pristine, "limit-metadata-size",
     Limits(max_manifest_size=1 * KiB)),
    ("wheel-entries-over-limit", make_pristine, "wheel-limit-entries",
     Limits(max_wheel_entries=3)),
    ("wheel-size-over-limit", make_pristine, "wheel-limit-size",
     Limits(max_wheel_size=1 * KiB)),
]

ALL = [(d, m, c, None) for d, m, c in CASES] + LIMIT_CASES
IDS = [c[0] for c in CASES]
ALL_IDS = [c[0] for c in ALL]


# ================================================================= harness

INSPECT_CASES = [pytest.param(*case, id=case[0]) for case in ALL]


def _dirs(root: Path) -> Path:
    """'case' holds the package, 'tmp' is the only temporary directory the validator may
    use (and must leave as it found it), 'cwd' is the working directory."""
    for sub in ("case", "tmp", "cwd"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    _dirs(tmp_path)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def _tree(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size if p.is_file() else -1)
            for p in sorted(root.rglob("*"))}


def _assert_nothing_written(root: Path, before: dict[str, int],
                            after: dict[str, int] | None = None) -> None:
    assert (after if after is not None else _tree(root)) == before, \
        "something was written (or left behind) in the sandbox"
    for place in (root, root / "tmp", root / "cwd", root / "case", root.parent):
        assert not (place / ESCAPE).exists(), f"a member escaped to {place / ESCAPE}"


def _make(make, built_pipeline: Path, sandbox: Path) -> Path:
    path = make(Ctx(built_pipeline, sandbox / "case"))
    assert path.is_file()
    return path


def _cli(sandbox: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TMPDIR=str(sandbox / "tmp"))
    env.pop("PYTHONIOENCODING", None)
    return subprocess.run([sys.executable, "-m", "cloacina_build", *args],
                          capture_output=True, cwd=sandbox / "cwd", env=env, timeout=120)


@dataclass
class CliRun:
    sandbox: Path
    before: dict[str, int]
    after: dict[str, int]
    procs: dict[str, subprocess.CompletedProcess]


def _family(code: str) -> str:
    return code.split("-")[0]


# Real subprocesses for one case per code family (real stdio, exit codes, no traceback);
# every case also goes through the same click commands in-process, which is far cheaper.
CLI_SAMPLE = sorted({_family(code): defect for defect, _make_, code in reversed(CASES)}
                    .values())


@pytest.fixture(scope="module")
def cli_runs(built_pipeline, tmp_path_factory):
    """The sampled cases, each made in its own sandbox and run through ``cloacinactl``
    (``validate --json`` and ``inspect``), the subprocesses in parallel."""
    root = tmp_path_factory.mktemp("hostile-cli")
    makers = {case[0]: case[1] for case in ALL}
    runs: dict[str, CliRun] = {}
    jobs = []
    for defect in CLI_SAMPLE:
        sandbox = _dirs(root / defect)
        path = _make(makers[defect], built_pipeline, sandbox)
        runs[defect] = CliRun(sandbox, _tree(sandbox), {}, {})
        jobs.append((defect, "validate", sandbox, ("validate", str(path), "--json")))
        jobs.append((defect, "inspect", sandbox, ("inspect", str(path))))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = [(d, c, pool.submit(_cli, s, *a)) for d, c, s, a in jobs]
        for defect, command, future in futures:
            runs[defect].procs[command] = future.result()
    for run in runs.values():
        run.after = _tree(run.sandbox)
    return runs.__getitem__


def _click(*args: str):
    from click.testing import CliRunner

    from cloacina_build.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def test_pristine_package_is_valid(built_pipeline, sandbox):
    """The baseline every case starts from: rebuilt through the helpers, still valid, so
    each finding below comes from the defect a case adds."""
    path = _make(make_pristine, built_pipeline, sandbox)
    report = validate_package(path)
    assert report.ok, [f.render() for f in report.findings]
    members = read_members(path)
    assert fix_manifest(members) == members  # the manifest helper changes nothing here
    proc = _cli(sandbox, "validate", str(path), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["valid"] is True


@pytest.mark.parametrize("defect, make, code, limits", ALL, ids=ALL_IDS)
def test_validate_rejects(defect, make, code, limits, built_pipeline, sandbox):
    path = _make(make, built_pipeline, sandbox)
    before = _tree(sandbox)
    policy = ValidationPolicy(limits=limits) if limits else None
    report = validate_package(path, policy)
    codes = [f.code for f in report.findings]
    assert report.ok is False, codes
    assert code in codes, f"{defect}: expected {code}, got {codes}"
    assert code in [f.code for f in report.errors]
    for f in report.findings:
        assert f.severity in ("error", "warning") and isinstance(f.message, str)
        json.dumps(f.to_dict(), ensure_ascii=False).encode("utf-8")  # printable as UTF-8
    _assert_nothing_written(sandbox, before)
    if limits:  # the same file passes under the default limits: the limit did the work
        assert code not in [f.code for f in validate_package(path).findings]


def test_the_cli_sample_covers_every_code_family():
    assert {_family(code) for _d, _m, code in CASES} == \
        {_family(code) for d, _m, code in CASES if d in CLI_SAMPLE}
    assert len(CLI_SAMPLE) < len(CASES) / 4


@pytest.mark.parametrize("defect, make, code", CASES, ids=IDS)
def test_cli_validate_rejects_in_process(defect, make, code, built_pipeline, sandbox):
    path = _make(make, built_pipeline, sandbox)
    before = _tree(sandbox)
    result = _click("validate", str(path), "--json")
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    out = json.loads(result.stdout)
    assert out["valid"] is False
    assert code in [f["code"] for f in out["findings"]], out["findings"]
    _assert_nothing_written(sandbox, before)


@pytest.mark.parametrize("defect", CLI_SAMPLE)
def test_cli_validate_rejects(defect, cli_runs):
    code = {d: c for d, _m, c in CASES}[defect]
    run = cli_runs(defect)
    proc = run.procs["validate"]
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    assert proc.returncode == 1, (proc.returncode, stderr)
    out = json.loads(proc.stdout.decode("utf-8"))
    assert out["valid"] is False
    assert code in [f["code"] for f in out["findings"]], out["findings"]
    _assert_nothing_written(run.sandbox, run.before, run.after)


@pytest.mark.parametrize("defect, make, code, limits", INSPECT_CASES)
def test_inspect_works_or_fails_cleanly(defect, make, code, limits, built_pipeline, sandbox):
    path = _make(make, built_pipeline, sandbox)
    before = _tree(sandbox)
    try:
        info = inspect_package(path)
    except CloacinaError as exc:
        assert exc.code and exc.message and "\n" not in exc.message
    else:
        json.dumps(info, ensure_ascii=False, default=str).encode("utf-8")
    result = _click("inspect", str(path))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    _assert_inspect_output(result.exit_code, result.stdout, result.stderr)
    _assert_nothing_written(sandbox, before)


def _assert_inspect_output(code: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert code in (0, 1), (code, stderr)
    if code == 1:  # one error line, then the findings it carries and a hint
        first, *rest = stderr.strip().splitlines()
        assert first.startswith("error: "), stderr
        assert all(line.startswith(("  error[", "  warning[", "hint: ")) for line in rest), \
            stderr
        assert len([line for line in rest if line.startswith("hint: ")]) <= 1, stderr
    else:
        assert stdout.strip()


@pytest.mark.parametrize("defect", CLI_SAMPLE)
def test_cli_inspect_works_or_fails_cleanly(defect, cli_runs):
    run = cli_runs(defect)
    proc = run.procs["inspect"]
    _assert_inspect_output(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                           proc.stderr.decode("utf-8", "replace"))
    _assert_nothing_written(run.sandbox, run.before, run.after)


def test_case_ids_are_unique_and_every_required_code_is_covered():
    assert len(set(ALL_IDS)) == len(ALL_IDS)
    required = {
        "archive-not-zstd", "archive-corrupt", "archive-truncated", "archive-trailing-data",
        "member-type", "member-name-absolute", "member-name-parent", "member-name-backslash",
        "member-name-drive", "member-name-duplicate", "member-name-case-collision",
        "member-name-not-normalised", "member-name-control", "member-order",
        "limit-member-count", "limit-member-size", "limit-total-size",
        "limit-metadata-size", "limit-compression-ratio", "schema-package-toml",
        "schema-manifest", "manifest-syntax", "package-toml-syntax", "digest-mismatch",
        "digest-size-mismatch", "member-missing", "member-unlisted", "metadata-mismatch",
        "payload-identity", "payload-tags", "wheel-bad-zip", "wheel-record",
        "wheel-member-name-parent", "wheel-limit-ratio", "tasks-drift", "graph-cycle",
        "graph-unknown-dependency", "workflow-fingerprint"}
    assert required <= {c[2] for c in ALL}
    assert len(CASES) >= 26


def test_bomb_really_is_a_bomb(built_pipeline, sandbox):
    """The decompression-bomb case is small on disk and huge inside (so the ratio limit,
    not a size limit, is what stops it)."""
    path = _make(make_decompression_bomb, built_pipeline, sandbox)
    assert path.stat().st_size < 64 * KiB
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(_bomb_frame()))
    total = 0
    while chunk := reader.read(1 << 22):
        total += len(chunk)
    assert total == 512 + 200 * MiB


# ================================================================= the loader's install step

_LOAD_ALL = """
import json, sys
from cloacina_build.errors import CloacinaError
from cloacina_build.runtime.loader import load_package
out = {}
for defect, path in json.loads(sys.argv[1]).items():
    try:
        load_package(path, cache_dir=sys.argv[2])
    except CloacinaError as exc:
        out[defect] = [exc.code, sorted({f.code for f in exc.findings})]
    else:
        out[defect] = ["loaded", []]
print(json.dumps(out))
"""


def _install_cases(built_pipeline: Path, root: Path) -> dict[str, str]:
    paths = {}
    for defect, make, _code in INSTALL_CASES:
        (root / defect).mkdir(parents=True)
        paths[defect] = str(make(Ctx(built_pipeline, root / defect)))
    return paths


def test_loader_refuses_every_install_case_in_bounded_time(built_pipeline, tmp_path):
    """``load_package`` refuses each package the installer cannot take with our own error
    and the finding validate gives, in a subprocess with a deadline: the .data-is-a-file
    case used to make the installer loop forever, and a regression must fail, not hang."""
    paths = _install_cases(built_pipeline, tmp_path / "cases")
    cache = tmp_path / "cache"
    cache.mkdir()
    proc = subprocess.run([sys.executable, "-c", _LOAD_ALL, json.dumps(paths), str(cache)],
                          capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    result = json.loads(proc.stdout)
    for defect, _make, code in INSTALL_CASES:
        assert result[defect][0] == "load-refused", (defect, result[defect])
        assert code in result[defect][1], (defect, result[defect])
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_run_refuses_a_data_directory_that_is_a_file(built_pipeline, tmp_path):
    """``cloacinactl run`` on the package that used to loop: exit 1, the finding, no
    traceback, and it ends (the timeout fails the test instead of hanging it)."""
    path = make_wheel_data_dir_is_file(Ctx(built_pipeline, tmp_path))
    env = dict(os.environ, CLOACINA_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "cloacina_build", "run", str(path)],
                          capture_output=True, timeout=120, env=env)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and "wheel-data-dir" in stderr, stderr


@pytest.mark.parametrize("defect, make, code", INSTALL_CASES[:3],
                         ids=[c[0] for c in INSTALL_CASES[:3]])
def test_install_step_refuses_on_its_own(defect, make, code, built_pipeline, tmp_path):
    """The cache's install step checks the wheel again before installing it (it must not
    rely on its caller having validated): our own error, nothing left in the cache."""
    from cloacina_build.runtime.cache import build_entry

    members = read_members(make(Ctx(built_pipeline, tmp_path)))
    wheel = tmp_path / "data_pipeline-1.0.0-py3-none-any.whl"
    wheel.write_bytes(get(members, payload_name(members)))
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(CloacinaError) as info:
        build_entry(cache, "0" * 64, wheel=wheel, package_toml=b"", manifest=b"", meta={})
    assert info.value.code == "load-install"
    assert code in [f.code for f in info.value.findings]
    assert list(cache.iterdir()) == []


def test_install_errors_become_our_own(built_pipeline, tmp_path, monkeypatch):
    """Whatever the installer raises (here: its assertion on a bad entry point, with the
    pre-check switched off) comes out as a ``load-install`` PackageError."""
    from cloacina_build.runtime import cache as cache_mod

    members = read_members(make_wheel_entry_point_value(Ctx(built_pipeline, tmp_path)))
    wheel = tmp_path / "data_pipeline-1.0.0-py3-none-any.whl"
    wheel.write_bytes(get(members, payload_name(members)))
    monkeypatch.setattr(cache_mod, "_check_installable", lambda _wheel: None)
    (tmp_path / "cache").mkdir()
    with pytest.raises(CloacinaError) as info:
        cache_mod.build_entry(tmp_path / "cache", "0" * 64, wheel=wheel, package_toml=b"",
                              manifest=b"", meta={})
    assert info.value.code == "load-install" and "\n" not in info.value.message
    assert list((tmp_path / "cache").iterdir()) == []


def test_plain_files_named_dot_data_are_not_data_directories(built_pipeline, sandbox):
    """Only this distribution's .data directory (however spelt) is judged as one: a root
    file or package directory that merely ends in '.data' installs as itself."""
    ok = _wheel(lambda e: e + [(_zinfo("weights.data"), b"\0" * 8),
                               (_zinfo("other-2.0.data/x.txt"), b"x\n")])
    report = validate_package(_make(ok, built_pipeline, sandbox))
    assert report.ok, [f.render() for f in report.findings]
    misspelt = _add("Data_Pipeline-1.0.0.data/purelib/x.py", b"x = 1\n")
    report = validate_package(_make(misspelt, built_pipeline, sandbox))
    assert "wheel-data-dir" in [f.code for f in report.errors]


# ================================================================= ls

# What 'ls' itself notices of each defect (it reads every member and the wheel's
# directory and RECORD, and checks the manifest's digests); a code in no family here is
# validate's alone, and 'ls' lists such a package as it is.
LS_REPORTS = ("archive-", "member-type", "member-name-", "member-order", "member-missing",
              "limit-member-", "limit-total-", "limit-compression-", "limit-metadata-",
              "manifest-syntax", "digest-", "wheel-member-", "wheel-limit-", "wheel-dist-info",
              "wheel-record")
LS_CODE = {"wheel-record-dangling": "wheel-record", "digest-size-mismatch": "digest-mismatch"}
LS_LISTS = {"signature-before-payload"}  # where a signature sits is validate's check
LS_IGNORES = ("tasks-", "graph-", "workflow-", "metadata-", "payload-", "signature-",
              "limit-signature", "package-toml-", "schema-package-toml", "wheel-version-",
              "wheel-metadata-", "wheel-entry-point", "wheel-install-", "wheel-data-")


@pytest.mark.parametrize("defect, make, code, limits", INSPECT_CASES)
def test_ls_lists_or_fails_cleanly(defect, make, code, limits, built_pipeline, sandbox):
    """Every hostile package through ``ls``: a listing (incomplete, with findings, where
    reading stopped) or one CloacinaError; never a traceback, and nothing written, not even
    in TMPDIR (the payload is never extracted)."""
    from cloacina_build.ops.listing import list_package

    path = _make(make, built_pipeline, sandbox)
    before = _tree(sandbox)
    try:
        listing = list_package(path, limits or DEFAULT_LIMITS)
    except CloacinaError as exc:
        assert exc.code and exc.message and "\n" not in exc.message
        reported, ok = {exc.code}, False
    else:
        json.dumps(listing.to_dict(), ensure_ascii=False).encode("utf-8")
        reported, ok = {f.code for f in listing.findings}, listing.ok
        assert listing.ok == (listing.complete and not reported)
    if code.startswith(LS_REPORTS) and defect not in LS_LISTS:
        assert LS_CODE.get(code, code) in reported, (code, reported)
    elif code.startswith(LS_IGNORES) or defect in LS_LISTS:
        assert ok, reported
    if limits is None:  # the command uses the default limits
        result = _click("ls", str(path))
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            repr(result.exception)
        assert "Traceback" not in result.stderr
        assert result.exit_code == (0 if ok else 1), (result.exit_code, result.stderr)
    _assert_nothing_written(sandbox, before)
