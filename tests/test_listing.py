"""``ls``: a package's members and its payload's files, of real packages of both formats,
checked against independent readers (tarfile, zipfile, hashlib) of the same bytes."""

from __future__ import annotations

import base64
import bz2
import hashlib
import io
import tarfile
import zipfile

from cloacina_build.build.builder import build_package
from cloacina_build.ops.listing import (
    CLOACINA,
    ENGINE,
    NO_HASH,
    PayloadFile,
    list_package,
)

from .conftest import EXAMPLES
from .hostile import get, payload_name, read_members


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record_of(wheel: bytes) -> dict[str, tuple[int | None, str | None]]:
    """RECORD read by hand from the wheel with zipfile: path -> (size, hex sha256)."""
    zf = zipfile.ZipFile(io.BytesIO(wheel))
    record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    out: dict[str, tuple[int | None, str | None]] = {}
    for line in zf.read(record).decode().splitlines():
        path, digest, size = line.rsplit(",", 2)
        hexdigest = None
        if digest:
            value = digest.split("=", 1)[1]
            hexdigest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
        out[path] = (int(size) if size else None, hexdigest)
    return out


def test_members_are_the_archives_members_with_their_own_digests(built_pipeline):
    listing = list_package(built_pipeline)
    assert listing.format == CLOACINA and listing.ok and listing.complete
    members = read_members(built_pipeline)
    assert [(m.path, m.size, m.sha256) for m in listing.members] == \
        [(name, len(data), _sha(data)) for name, data in members]
    assert listing.payload is not None and listing.payload.kind == "wheel"


def test_wheel_files_are_records_lines_and_match_zipfile(built_pipeline):
    listing = list_package(built_pipeline)
    wheel = get(read_members(built_pipeline), payload_name(read_members(built_pipeline)))
    zf = zipfile.ZipFile(io.BytesIO(wheel))
    record = _record_of(wheel)
    assert [f.path for f in listing.payload_files] == sorted(zf.namelist())
    for f in listing.payload_files:
        assert (f.size, f.sha256) == record[f.path]
        assert f.zip_size == zf.getinfo(f.path).file_size
        if f.sha256 is not None:  # RECORD's hash is the file's (an independent check)
            assert f.sha256 == _sha(zf.read(f.path)) and f.note is None
    (unhashed,) = [f for f in listing.payload_files if f.sha256 is None]
    assert unhashed.path == listing.record and unhashed.note == NO_HASH
    assert isinstance(listing.payload_files[0], PayloadFile)


def test_engine_archive_members_and_source_files(tmp_path):
    out = tmp_path / "dp.cloacina"
    build_package(EXAMPLES / "data-pipeline", out, format="engine")
    listing = list_package(out)
    assert listing.format == ENGINE and listing.ok and listing.root == "data-pipeline-1.0.0"
    with tarfile.open(fileobj=io.BytesIO(bz2.decompress(out.read_bytes()))) as tf:
        files = {info.name: tf.extractfile(info).read() for info in tf if info.isfile()}
    prefix = "data-pipeline-1.0.0/"
    assert {(m.path, m.size, m.sha256) for m in listing.members if m.type == "file"} == \
        {(name[len(prefix):], len(data), _sha(data)) for name, data in files.items()}
    assert [f.path for f in listing.payload_files] == sorted(
        name[len(prefix):] for name in files
        if not name[len(prefix):].startswith((".cloacina-build/", "package.toml")))
    assert listing.payload is not None
    assert sum(f.size or 0 for f in listing.payload_files) == listing.payload.size
