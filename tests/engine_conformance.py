"""An independent model of what the engine does with an archive, written from
engine-format.md (§2.1 unpack, §2.2 the resolver and the raw loader, §2.3 layout) with
Python's ``bz2`` and ``tarfile`` only — none of cloacina_build's code.  Tests apply it to
every engine archive they build and check that the library's verdict agrees.
"""

from __future__ import annotations

import bz2
import io
import tarfile
import tomllib
from dataclasses import dataclass, field

MAX_ENTRIES, MAX_DECLARED, MAX_RATIO = 10_000, 500 * 1024 * 1024, 10
META_KEYS = {"language", "workflow_name", "graph_name", "entry_module", "requires_python",
             "description", "author", "reaction_mode", "input_strategy", "accumulators",
             "providers"}


@dataclass
class EngineVerdict:
    unpack: str | None = None      # why fidius unpack_package fails, or None
    root: str | None = None
    roots: list[str] = field(default_factory=list)
    resolver: str | None = None    # why load_resolved_manifest fails, or None
    loader: str | None = None      # why the raw Python loader fails, or None
    layout: str | None = None      # why package validate's layout check fails, or None
    names: set[str] = field(default_factory=set)  # root-relative file names


def judge(data: bytes, max_entries: int = MAX_ENTRIES, max_declared: int = MAX_DECLARED,
          max_ratio: int = MAX_RATIO) -> EngineVerdict:
    v = EngineVerdict()
    d = bz2.BZ2Decompressor()
    try:
        raw = d.decompress(data)
    except (OSError, ValueError):
        v.unpack = "bzip2"
        return v
    if not d.eof:
        v.unpack = "bzip2"
        return v
    try:  # tar-rs reads an empty stream as no entries; tarfile calls it an error
        files = _unpack(raw, len(data), v, max_entries, max_declared, max_ratio) if raw else {}
    except (tarfile.TarError, EOFError, ValueError, UnicodeError):
        v.unpack = "tar"
        return v
    if v.unpack:
        return v
    tops = {n.split("/")[0] for n in files}
    v.roots = sorted(t for t in tops if f"{t}/package.toml" in files)
    if not v.roots:
        v.unpack = "no-root"
        return v
    v.root = v.roots[0]
    v.names = {n[len(v.root) + 1:] for n in files if n.startswith(v.root + "/")}
    _manifest(files[f"{v.root}/package.toml"], v)
    return v


class _LaxInfo(tarfile.TarInfo):
    """A header read as tar-rs reads it.  The checksum must hold (octal, the unsigned sum)
    and a damaged or cut header is an error wherever it is — ``tarfile`` quietly ends the
    archive at one after the first, so these raise ``ValueError``, which it lets through.
    A number tar-rs only uses when it parses (``if let Ok(..)``: mode, uid, gid, mtime,
    device numbers) may be anything."""

    _IGNORED = ((100, 108), (108, 116), (116, 124), (136, 148), (329, 337), (337, 345))

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo:
        if not buf or buf.count(tarfile.NUL) == tarfile.BLOCKSIZE:
            return super().frombuf(buf, encoding, errors)  # the end: empty, or zeros
        if len(buf) != tarfile.BLOCKSIZE:
            raise ValueError("a tar header cut short")
        field = buf[148:156].split(b"\0", 1)[0].strip(b" ")
        if not field or any(c not in b"01234567" for c in field) or \
                int(field, 8) != tarfile.calc_chksums(buf)[0]:
            raise ValueError("tar header checksum mismatch")
        fixed = bytearray(buf)
        for start, end in cls._IGNORED:
            try:
                tarfile.nti(buf[start:end])
            except tarfile.InvalidHeaderError:
                fixed[start:end] = b"0" * (end - start - 1) + b"\0"
        fixed[148:156] = b"%06o\0 " % tarfile.calc_chksums(bytes(fixed))[0]
        try:
            return super().frombuf(bytes(fixed), encoding, errors)
        except tarfile.HeaderError as exc:  # a size that is not a number, say
            raise ValueError(str(exc)) from None


def _unpack(raw: bytes, size: int, v: EngineVerdict, max_entries: int, max_declared: int,
            max_ratio: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    is_dir: dict[str, bool] = {}
    total = count = 0
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:", tarinfo=_LaxInfo) as tf:
        for member in tf:
            count += 1
            if count > max_entries:
                v.unpack = "entries"
                return files
            if member.issym() or member.islnk():
                v.unpack = "link"
                return files
            parts = member.name.split("/")
            # tarfile turns a member named "/" into a directory named "": the raw header
            # still says "/", which the engine's unpacker refuses as absolute (RootDir)
            if member.name.startswith("/") or (
                    not member.name and raw[member.offset:member.offset + 1] == b"/"):
                v.unpack = "absolute"
                return files
            if ".." in parts:
                v.unpack = "parent"
                return files
            total += member.size
            if total > max_declared or total > max_ratio * size:
                v.unpack = "size"
                return files
            name = "/".join(p for p in parts if p not in ("", "."))
            if not name:  # tar-rs unpack_in skips a name of only "." and "/" parts
                continue
            isdir = member.isdir() or _old_style_dir(member, raw)
            if _conflicts(name, isdir, is_dir):
                v.unpack = "conflict"
                return files
            if isdir:
                continue
            fh = tf.extractfile(member)
            files[name] = fh.read() if fh is not None else b""  # devices: empty files
    return files


def _old_style_dir(member: tarfile.TarInfo, raw: bytes) -> bool:
    """tar-rs 'Old BSD-tar compatibility': any member of a GNU or v7 header (not POSIX
    ustar, magic ``ustar\0`` version ``00``) whose name ends in '/' is a directory."""
    header = raw[member.offset_data - tarfile.BLOCKSIZE:member.offset_data]
    return member.name.endswith("/") and header[257:265] != b"ustar\x0000"


def _conflicts(name: str, isdir: bool, is_dir: dict[str, bool]) -> bool:
    """tar-rs overwrites a file with a file (last wins) but cannot make a directory where a
    file is (a member's own name, or a parent it creates), nor replace a directory with a
    file: either order of ``a`` (file) and ``a/b`` fails the unpack."""
    parts = name.split("/")
    for i in range(1, len(parts)):
        if not is_dir.setdefault("/".join(parts[:i]), True):
            return True
    return is_dir.setdefault(name, isdir) != isdir


def _manifest(text: bytes, v: EngineVerdict) -> None:
    try:
        doc = tomllib.loads(text.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        v.resolver = "toml"
        return
    pkg, meta = doc.get("package"), doc.get("metadata", {})
    if not isinstance(pkg, dict) or not isinstance(meta, dict):
        v.resolver = "tables"
        return
    v.loader = _loader(doc)
    meta = dict(meta)
    if "language" not in meta:
        rust = {"Cargo.toml", "src/lib.rs"} <= v.names
        python = any(n.startswith("workflow/") for n in v.names)
        if rust == python:
            v.resolver = "language"
            return
        meta["language"] = "rust" if rust else "python"
    if meta["language"] == "python" and isinstance(pkg.get("name"), str):
        meta.setdefault("entry_module", pkg["name"].replace("-", "_") + ".tasks")
    v.resolver = _typed(pkg, meta, doc)
    if v.resolver is None:
        v.layout = _layout(meta, v.names)


def _typed(pkg: dict, meta: dict, doc: dict) -> str | None:
    if not isinstance(pkg.get("name"), str) or not isinstance(pkg.get("version"), str):
        return "name/version"
    iv = pkg.get("interface_version", 1)
    if type(iv) is not int or not 0 <= iv < 2**32:
        return "interface_version"
    if set(meta) - META_KEYS:
        return "metadata-key"
    if any(not isinstance(meta[k], str) for k in META_KEYS - {"accumulators", "providers"}
           if k in meta):
        return "metadata-type"
    for table in ("python", "wasm"):
        if table in doc and pkg.get("runtime") != table:
            return "runtime"
    return None


def _loader(doc: dict) -> str | None:
    pkg, meta = doc["package"], doc.get("metadata")
    if meta is None or meta.get("language", "python") != "python":
        return None if meta is not None else "metadata"
    for key in ("interface", "interface_version"):
        if key not in pkg:
            return key
    for key in ("language", "entry_module"):
        if key not in meta:
            return key
    return None


def _layout(meta: dict, names: set[str]) -> str | None:
    if meta["language"] == "rust":
        return None if {"Cargo.toml", "src/lib.rs"} <= names else "rust-layout"
    if meta["language"] != "python":
        return "language"
    if not any(n.startswith("workflow/") for n in names):
        return "workflow"
    base = "workflow/" + meta["entry_module"].replace(".", "/")
    if f"{base}.py" not in names and f"{base}/__init__.py" not in names:
        return "entry-module"
    return None


# The library's codes for each of the model's reasons.
UNPACK_CODES = {
    "bzip2": {"engine-bzip2-corrupt", "engine-bzip2-truncated", "engine-not-bzip2"},
    "tar": {"engine-tar-corrupt", "engine-tar-truncated"},
    "entries": {"engine-limit-entries"}, "link": {"engine-symlink", "engine-hardlink"},
    "absolute": {"engine-path-absolute"}, "parent": {"engine-path-parent"},
    "size": {"engine-limit-size", "engine-limit-ratio"}, "no-root": {"engine-root-missing"},
}
# A file and a directory of one name, or a file and a member beneath it: the engine fails
# to unpack it; the library refuses every duplicate name (a plain one, which the engine
# takes last-wins, included) and every file that is another member's directory.
REFUSED_CODES = {**UNPACK_CODES,
                 "conflict": {"engine-member-duplicate", "engine-member-conflict"}}
RESOLVER_CODES = {"engine-toml-syntax", "engine-manifest", "engine-metadata-key",
                  "engine-runtime-table", "engine-language"}
LAYOUT_CODES = {"engine-layout", "engine-entry-module", "engine-language"}


def agrees(verdict: EngineVerdict, codes: set[str]) -> str | None:
    """None when the library's error codes agree with the model; else what differs."""
    if verdict.unpack is not None:
        # a conflict is found at the member that completes it, so a hostile member earlier
        # in the archive may be what the library names: any refusal of the unpack agrees
        wanted = set().union(*REFUSED_CODES.values()) if verdict.unpack == "conflict" \
            else REFUSED_CODES[verdict.unpack]
        return None if codes & wanted else \
            f"engine refuses ({verdict.unpack}); library errors {sorted(codes)}"
    if "engine-root-ambiguous" in codes:  # stricter: the engine picks by read_dir order
        return None if len(verdict.roots) > 1 else "library: ambiguous root; model: one"
    every_unpack = set().union(*UNPACK_CODES.values())
    if codes & every_unpack:
        return f"engine unpacks it; library says {sorted(codes & every_unpack)}"
    if (verdict.resolver is not None) != bool(codes & RESOLVER_CODES):
        return f"resolver: model {verdict.resolver}, library {sorted(codes)}"
    if (verdict.loader is not None and verdict.resolver is None) != ("engine-loader" in codes):
        return f"loader: model {verdict.loader}, library {sorted(codes)}"
    if verdict.resolver is None and (verdict.layout is not None) != bool(codes & LAYOUT_CODES):
        return f"layout: model {verdict.layout}, library {sorted(codes)}"
    return None


def at_least_as_strict(verdict: EngineVerdict, codes: set[str]) -> str | None:
    """For damaged tars: what the model refuses the library refuses too (the library may
    refuse more: it reads a member's mode strictly)."""
    every_unpack = set().union(*UNPACK_CODES.values())
    if verdict.unpack is not None and not codes & (every_unpack | {"engine-limit-record",
                                                                   "engine-member-type"}):
        return f"model refuses ({verdict.unpack}); library errors {sorted(codes)}"
    return None
