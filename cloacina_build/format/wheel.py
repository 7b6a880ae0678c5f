"""The wheel payload: its name and tags, RECORD, safe member names, and its workflow.

Shared by the builder (to describe the wheel it made) and the validator (to check the one
it was given), so both read a wheel the same way.
"""

from __future__ import annotations

import lzma
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)

from ..findings import Finding, error
from ..model import Task
from ..project.discovery import Discovery, discover
from ..project.sources import ZipTree
from .limits import Limits
from .names import NameSet, name_problem

# What opening or reading a hostile zip can raise: a bad archive, an encrypted entry
# (RuntimeError), an unknown compression method (NotImplementedError), a corrupt deflate,
# bzip2 or lzma stream (zlib.error, OSError, LZMAError), a short stream (EOFError).
ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError,
              NotImplementedError, zlib.error, lzma.LZMAError)


@dataclass(frozen=True)
class WheelName:
    filename: str
    name: str
    version: str
    tags: list[str]


def parse_name(filename: str) -> WheelName:
    """Raises ValueError with a readable message for a bad wheel file name."""
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise ValueError(f"{filename!r} is not a valid wheel file name: {exc}") from None
    return WheelName(filename, str(name), str(version), sorted(str(t) for t in tags))


def same_name(a: str, b: str) -> bool:
    return canonicalize_name(a) == canonicalize_name(b)


def structure_findings(zf: zipfile.ZipFile, limits: Limits, where: str) -> list[Finding]:
    """Entry names, counts and declared sizes, checked before anything is decompressed."""
    out: list[Finding] = []
    infos = zf.infolist()
    if len(infos) > limits.max_wheel_entries:
        return [error("wheel-limit-entries", f"the wheel has {len(infos)} entries, over the "
                      f"limit of {limits.max_wheel_entries}", where)]
    names = NameSet()
    total = 0
    for info in infos:
        name = info.filename
        problem = name_problem(name[:-1] if name.endswith("/") else name) or names.add(name)
        if problem:
            out.append(error("wheel-" + problem[0], problem[1], where))
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) not in (0, 0o100000, 0o040000):
            out.append(error("wheel-member-type", f"wheel entry {name!r} is not a regular "
                             "file (a link or device)", where))
        total += info.file_size
        if info.file_size > (1 << 20) and \
                info.file_size > limits.max_wheel_ratio * max(info.compress_size, 1):
            out.append(error("wheel-limit-ratio", f"wheel entry {name!r} expands more than "
                             f"{limits.max_wheel_ratio:g}:1 (a zip bomb?)", where))
    if total > limits.max_wheel_size:
        out.append(error("wheel-limit-size", f"the wheel's files add up to {total} bytes, "
                         f"over the limit of {limits.max_wheel_size}", where))
    return out


def record_findings(path: Path, where: str) -> list[Finding]:
    """RECORD against the wheel's contents: every file listed, every hash and size right."""
    from installer.sources import WheelFile

    try:
        with WheelFile.open(path) as source:
            source.validate_record(validate_contents=True)
    except zipfile.BadZipFile as exc:
        return [error("wheel-bad-zip", f"the payload is not a zip archive: {exc}", where)]
    except Exception as exc:  # installer raises its own types, with a list of issues
        issues = getattr(exc, "issues", None) or [getattr(exc, "reason", None) or str(exc)]
        return [error("wheel-record", _strip_path(str(i), path), where) for i in issues]
    return []


def _strip_path(message: str, path: Path) -> str:
    return message.replace(f"In {path}, ", "").replace(str(path), "the wheel")


def discover_in_wheel(zf: zipfile.ZipFile, entry_module: str, workflow: str) -> Discovery:
    return discover(ZipTree(zf), entry_module, workflow)


def comparable(tasks: Iterable[Task]) -> dict[str, tuple[str, tuple[str, ...], str]]:
    """What must match between discoveries: ids, function, edges and fingerprints."""
    out = {}
    for t in tasks:
        out[t.id] = (t.function, tuple(sorted(t.dependencies)), t.fingerprint)
    return out
