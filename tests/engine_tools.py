"""Writers of engine archives (bzip2 tars of source) for the tests: the three ways real
archives are made (Python ``tarfile``, GNU ``tar -cjf``, fidius), and raw hostile ones."""

from __future__ import annotations

import bz2
import io
import shutil
import subprocess
import tarfile
import textwrap
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "engine"  # the engine's own

TASKS = '''\
import cloaca


@cloaca.workflow_params(batch=(int, 100))
@cloaca.workflow_secrets("db_password")
@cloaca.task(id="extract", dependencies=[], retry_attempts=2)
def extract(context):
    context.set("rows", [1, 2, 3])
    return context


@cloaca.task(id="transform", dependencies=["extract"])
def transform(context):
    return context


@cloaca.task(id="load", dependencies=["transform", "extract"])
def load(context):
    return context


@cloaca.trigger(on="etl_demo", cron="0 * * * *")
def hourly(context):
    return context
'''

PACKAGE_TOML = '''\
[package]
name = "{name}"
version = "{version}"
interface = "cloacina-workflow-plugin"
interface_version = 1
extension = "cloacina"

[metadata]
language = "python"
workflow_name = "{module}"
entry_module = "{module}.tasks"
description = "an engine test workflow"
'''


def project_files(name: str = "etl-demo", version: str = "1.0.0", module: str = "etl_demo",
                  tasks: str = TASKS, toml: str | None = None,
                  extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Root-relative files of a small Python workflow (fully explicit manifest)."""
    text = toml if toml is not None else PACKAGE_TOML.format(name=name, version=version,
                                                             module=module)
    files = {"package.toml": text.encode(),
             f"workflow/{module}/__init__.py": b"",
             f"workflow/{module}/tasks.py": textwrap.dedent(tasks).encode()}
    files.update(extra or {})
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def tarfile_pax(files: dict[str, bytes], prefix: str) -> bytes:
    """What the engine's own fixtures are: ``tarfile.open(mode="w:bz2")`` (PAX format)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2", format=tarfile.PAX_FORMAT) as tf:
        for rel, data in files.items():
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gnu_tar(files: dict[str, bytes], prefix: str, workdir: Path) -> bytes | None:
    """The docs' recipe: ``tar -cjf out.cloacina -C stage PREFIX`` (directory entries, owner
    names, mtimes); with ``./`` prefixes when run as ``-C stage/.. ./PREFIX``.  None when
    ``tar`` or ``bzip2`` is missing."""
    if shutil.which("tar") is None or shutil.which("bzip2") is None:
        return None
    stage = workdir / "stage"
    write_tree(stage / prefix, files)
    out = workdir / "gnu.cloacina"
    subprocess.run(["tar", "-cjf", str(out), "-C", str(stage), f"./{prefix}"], check=True)
    return out.read_bytes()


def fidius_like(files: dict[str, bytes], prefix: str) -> bytes:
    """What fidius ``pack_package`` writes (engine-format §1.2): GNU headers, modes with
    file-type bits, GNU long names, byte-sorted paths, 1024 zero bytes, no record padding,
    one bzip2 stream at level 9."""
    out = io.BytesIO()
    for rel in sorted(files):
        data = files[rel]
        info = tarfile.TarInfo(f"{prefix}/{rel}")
        info.size, info.mode, info.mtime, info.uid, info.gid = len(data), 0o100644, \
            1_700_000_000, 1000, 1000
        info.uname = info.gname = ""
        out.write(with_mode(info.tobuf(tarfile.GNU_FORMAT, "utf-8", "strict"), 0o100644))
        out.write(data + b"\0" * (-len(data) % 512))
    out.write(b"\0" * 1024)
    return bz2.compress(out.getvalue(), 9)


def with_mode(buf: bytes, mode: int) -> bytes:
    """Set the last header's mode as tar-rs writes it (``tarfile`` masks it to 0o7777),
    file-type bits included, and fix its checksum."""
    head, block = bytearray(buf[:-512]), bytearray(buf[-512:])
    block[100:108] = b"%07o\0" % mode
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(head + block)


def raw_tar(entries: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.GNU_FORMAT,
            end: bool = True) -> bytes:
    """An uncompressed tar of exactly these headers (no sanitising: hostile on purpose)."""
    out = io.BytesIO()
    for info, data in entries:
        out.write(info.tobuf(fmt, "utf-8", "surrogateescape"))
        out.write(data + b"\0" * (-len(data) % 512))
    if end:
        out.write(b"\0" * 1024)
    return out.getvalue()


def entry(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE,
          link: str = "", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    return info, data if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else b""


def files_entries(files: dict[str, bytes], prefix: str) -> list[tuple[tarfile.TarInfo, bytes]]:
    return [entry(f"{prefix}/{rel}", data) for rel, data in files.items()]


def engine_archive(entries: list[tuple[tarfile.TarInfo, bytes]], **kw) -> bytes:
    return bz2.compress(raw_tar(entries, **kw), 9)
