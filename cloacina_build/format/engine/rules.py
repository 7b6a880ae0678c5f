"""The engine's rules for an archive's container and members, as named data and checks.

Every rule cites the section of the interop specification ``engine-format.md`` (the
engine's behaviour read from its source; see docs/engine.md) it comes from; every
finding message names the engine component that applies it.  Where the engine is lax
(device members, duplicates, odd names) cloacina-build is stricter and says so ("the
engine would accept ... but").
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ...findings import Finding, error, warning
from . import tar

KiB, MiB = 1024, 1024 * 1024


@dataclass(frozen=True)
class EngineLimits:
    """Bounds on reading an engine archive.  The first four are the engine's own."""

    max_entries: int = 10_000            # §2.1 UnpackOptions::default().max_entries
    max_declared: int = 500 * MiB        # §2.1 max_decompressed: sum of declared sizes
    max_ratio: int = 10                  # §2.1 max_ratio: declared sum <= 10 x file size
    max_upload: int = 100 * MiB          # §2.5 the server's request-body limit
    max_record: int = 64 * KiB           # ours: one PAX / GNU long-name record
    max_kept_file: int = 4 * MiB         # ours: a source file kept for discovery
    max_kept_total: int = 64 * MiB       # ours: every file kept in memory, together
    max_manifest: int = 32 * MiB         # ours: .cloacina-build/manifest.json
    max_package_toml: int = 1 * MiB      # ours: package.toml

    @property
    def max_stream(self) -> int:
        """Decompressed bytes of the first bzip2 stream we are willing to read: the declared
        bound plus every header and extension record the entry bound allows."""
        per_entry = 3 * (self.max_record + 2 * tar.BLOCK) + 2 * tar.BLOCK
        return self.max_declared + (self.max_entries + 1) * per_entry + 20 * tar.BLOCK


DEFAULT_ENGINE_LIMITS = EngineLimits()

# §2.9 validate_no_stdlib_shadowing (loader.rs:60-86): top-level names of workflow/ and
# vendor/, a trailing ".py" dropped.
STDLIB_DENY = frozenset(
    "os sys subprocess shutil socket http urllib ctypes importlib pathlib io json pickle "
    "marshal code codeop compile compileall builtins signal multiprocessing threading "
    "tempfile glob fnmatch".split())

# §2.7 the compiler's param parser scans every *.py under the root for these texts.
PARAM_CALLS = (b"workflow_params(", b"workflow_secrets(", b"boundary_schema(")

# Member kinds as cloacina-build reports them.
FILE, DIR, GLOBAL, DEVICE, FIFO, OTHER = "file", "dir", "pax-global", "device", "fifo", \
    "other"
_KIND = {**{f: FILE for f in tar.REGULAR}, tar.DIRECTORY: DIR, tar.PAX_GLOBAL: GLOBAL,
         tar.CHAR: DEVICE, tar.BLOCKDEV: DEVICE, tar.FIFO: FIFO}
_UNPACK = "the engine's unpacker (fidius unpack_package, engine-format §2.1)"
_DRIVE = re.compile(r"^[A-Za-z]:")


def shown_name(name: str) -> str:
    """A member name as text and JSON can carry it: bytes that are not UTF-8 (read with
    surrogateescape) become ``\\xNN`` escapes."""
    if name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def clean(findings: list[Finding]) -> list[Finding]:
    """Findings whose messages and locations quote member names, made encodable."""
    return [Finding(f.code, f.severity, shown_name(f.message),
                    None if f.location is None else shown_name(f.location))
            for f in findings]


class Refused(Exception):
    """A member the engine's unpacker refuses: the whole archive is rejected there."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def kind_of(header: tar.TarHeader) -> str:
    """What a member is; symlinks, hard links and sparse files are refused (§2.1)."""
    flag, where = header.typeflag, header.path.decode("utf-8", "replace")[:200]
    if flag == tar.SYMLINK:
        raise Refused(error("engine-symlink", f"{_UNPACK} refuses symlinks "
                            "(SymlinkRejected)", where))
    if flag == tar.HARDLINK:
        raise Refused(error("engine-hardlink", f"{_UNPACK} refuses hard links "
                            "(HardlinkRejected)", where))
    if flag == tar.GNU_SPARSE:
        raise Refused(error("engine-member-type", "a GNU sparse member: tar-rs would "
                            "expand it, cloacina-build does not read sparse members", where))
    if header.old and header.path.endswith(b"/") and flag != tar.PAX_GLOBAL:
        return DIR  # tar-rs 'Old BSD-tar compatibility': a GNU or v7 name ending in '/'
    return _KIND.get(flag, OTHER)


MAX_PATH, MAX_COMPONENT = 4095, 255  # Linux PATH_MAX less its NUL, and NAME_MAX


def member_name(raw: bytes) -> str:
    """The path as the engine extracts it (``./`` and empty components dropped); a
    ``..`` component or an absolute path is refused (§2.1 PathTraversal, AbsolutePath)."""
    text = raw.decode("utf-8", "surrogateescape")
    shown = text[:200]
    if text.startswith("/"):
        raise Refused(error("engine-path-absolute", f"{_UNPACK} refuses absolute paths "
                            "(AbsolutePath)", shown))
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused(error("engine-path-parent", f"{_UNPACK} refuses '..' components "
                            "(PathTraversal)", shown))
    name = "/".join(parts)
    if len(name.encode("utf-8", "surrogateescape")) > MAX_PATH or \
            max(map(len, raw.split(b"/"))) > MAX_COMPONENT:
        raise Refused(error("engine-path-long", f"a path over {MAX_PATH} bytes or with a "
                            f"component over {MAX_COMPONENT} bytes: {_UNPACK} cannot create "
                            "it (ENAMETOOLONG), so the engine refuses the archive", shown))
    return name


_SURROGATE = re.compile("[\ud800-\udfff]")   # bytes that were not UTF-8 (surrogateescape)
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def name_findings(name: str) -> list[Finding]:
    """Names the engine would extract but cloacina-build refuses (§6.4.4: be stricter)."""
    why = None
    if _SURROGATE.search(name):
        why = "is not UTF-8"
    elif _CONTROL.search(name):
        why = "contains control characters"
    elif "\\" in name or _DRIVE.match(name):
        why = "contains a backslash or a drive letter (a Windows path)"
    if why is None:
        return []
    return [error("engine-member-name", f"the member name {why}: the engine would extract "
                  "it, cloacina-build refuses it", repr(name)[1:-1][:200])]


def kind_findings(name: str, kind: str, mode: int) -> list[Finding]:
    """Types the engine writes as regular files (tar-rs entry.rs: 'treat any unrecognized
    typeflag value as a regular file'), PAX globals, and modes that break extraction."""
    out = []
    if kind in (DEVICE, FIFO, OTHER):
        out.append(error("engine-member-type", f"a {kind} member: tar-rs would unpack it as "
                         "a regular file, cloacina-build refuses it", name))
    elif kind == GLOBAL:
        out.append(warning("engine-pax-global", "a PAX global header: tar-rs yields it as "
                           "an entry (counted against the 10,000-entry limit) and it sets "
                           "nothing", name or "(pax global)"))
    perm = mode & 0o777
    if kind == FILE and perm & 0o444 == 0 or kind == DIR and perm & 0o100 == 0:
        out.append(warning("engine-member-mode", f"mode {perm:03o}: the engine extracts with "
                           "mode & 0o777, so it could not read this member (§2.1)", name))
    return out


def limit_check(count: int, declared: int, file_size: int, limits: EngineLimits) -> None:
    """The unpacker's running limits, checked after each entry (§2.1)."""
    if count > limits.max_entries:
        raise Refused(error("engine-limit-entries", f"more than {limits.max_entries} "
                            f"entries: {_UNPACK} stops with TooManyEntries"))
    if declared > limits.max_declared:
        raise Refused(error("engine-limit-size", f"the declared sizes add up to more than "
                            f"{limits.max_declared} bytes: {_UNPACK} stops with "
                            "SizeLimitExceeded"))
    if file_size > 0 and limits.max_ratio > 0 and declared > file_size * limits.max_ratio:
        raise Refused(error("engine-limit-ratio", f"the declared sizes ({declared} bytes) "
                            f"exceed {limits.max_ratio} x the file size ({file_size} "
                            f"bytes): {_UNPACK} stops with SizeLimitExceeded"))


def root_of(files: set[str], dirs: set[str]) -> tuple[str | None, list[Finding]]:
    """The package root: exactly one top-level directory holding package.toml (§2.1: the
    engine takes the *first* in read_dir order, so two are ambiguous; root-level files and
    other top-level directories are extracted and then discarded)."""
    tops = {n.split("/", 1)[0] for n in files | dirs if n}
    candidates = sorted(t for t in tops if f"{t}/package.toml" in files)
    findings: list[Finding] = []
    if len(candidates) > 1:
        findings.append(error("engine-root-ambiguous", "more than one top-level directory "
                              f"holds package.toml ({', '.join(candidates[:5])}): the engine "
                              "takes whichever read_dir lists first (§2.1)"))
    loose = sorted(t for t in tops if t not in candidates)
    if not candidates:
        at_root = " (package.toml sits at the archive root, not in a directory)" \
            if "package.toml" in files else ""
        findings.append(error("engine-root-missing", "no top-level directory holds "
                              f"package.toml{at_root}: {_UNPACK} fails with InvalidArchive "
                              "'archive does not contain a package.toml'"))
        return None, findings
    if loose:
        findings.append(warning("engine-root-extra", f"{len(loose)} top-level member(s) "
                                f"outside the package root ({', '.join(loose[:5])}): the "
                                "engine extracts them and then discards them (§2.1)"))
    return (candidates[0] if len(candidates) == 1 else None), findings


def name_version_findings(root: str, name: object, version: object) -> list[Finding]:
    """§6.1 limits: the registry's Postgres columns, and the ``name-version`` prefix."""
    out: list[Finding] = []
    if not isinstance(name, str) or not isinstance(version, str):
        return out
    if "/" in name:
        out.append(error("engine-name", "[package].name contains '/': pack would nest the "
                         "prefix directory and unpack would find no root (§1.2)"))
    if len(name) > 255 or len(version) > 100:
        out.append(error("engine-name", "[package].name is over 255 or version over 100 "
                         "characters: the registry's columns cannot hold them (§6.1)"))
    if root != f"{name}-{version}":
        out.append(warning("engine-root-name", f"the root directory is not "
                           f"'{name}-{version}' as pack writes it; the engine does not "
                           "check it (§2.1)", root))
    return out


def shadow_findings(names: set[str]) -> list[Finding]:
    """§2.9: top-level names of workflow/ and vendor/ against the stdlib deny list."""
    out = []
    for top in ("workflow", "vendor"):
        entries = {n.split("/", 1)[0] for n in _below(names, top)}
        for entry in sorted(entries):
            stem = entry[:-3] if entry.endswith(".py") else entry
            if stem in STDLIB_DENY:
                out.append(error("engine-stdlib-shadow", f"'{top}/{entry}' shadows the "
                                 f"Python stdlib module '{stem}': the engine's Python loader "
                                 "rejects the package (validate_no_stdlib_shadowing, §2.9)",
                                 f"{top}/{entry}"))
    return out


def _below(names: set[str], top: str) -> list[str]:
    prefix = top + "/"
    return [n[len(prefix):] for n in names if n.startswith(prefix) and len(n) > len(prefix)]


def entry_module_paths(entry_module: str) -> tuple[str, str]:
    """§2.3: ``a.b`` must be ``workflow/a/b.py`` or ``workflow/a/b/__init__.py``."""
    base = "workflow/" + entry_module.replace(".", "/")
    return base + ".py", base + "/__init__.py"


class Dirs:
    """The directories member names make: the directory entries, and every parent a
    name implies.  Asked, not listed: a deep path's parents are never spelled out, so a
    hostile archive of deep names costs one sort, not its depth times its length."""

    def __init__(self, files: Iterable[str], entries: Iterable[str]) -> None:
        self.entries = frozenset(entries)
        self._sorted = sorted({*files, *self.entries})

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (path in self.entries
                                          or self.first_below(path) is not None)

    def first_below(self, path: str) -> str | None:
        """The first name (in sorted order) under ``path/``: the names sharing a prefix
        sort together, so one bisection finds it."""
        prefix = path + "/"
        at = bisect.bisect_left(self._sorted, prefix)
        if at < len(self._sorted) and self._sorted[at].startswith(prefix):
            return self._sorted[at]
        return None


def conflict_findings(files: set[str], dirs: set[str]) -> list[Finding]:
    """A file that is also the directory of another member, file or directory (``a/b`` and
    ``a/b/c``): the unpacker cannot create both, so the engine's extraction fails (§2.1)."""
    out = []
    index = Dirs(files, dirs)
    for name in sorted(files):
        below = index.first_below(name)
        if below is not None:
            out.append(error("engine-member-conflict", f"'{shown_name(name)}' is a file "
                             f"and the directory of '{shown_name(below)}': {_UNPACK} "
                             "cannot create both", shown_name(below)))
            if len(out) >= 20:
                break
    return out


class ParamScan:
    """:func:`declared_params` over a file that streams past in chunks (a text may span
    two chunks: the last bytes of one are kept for the next)."""

    KEEP = max(len(c) for c in PARAM_CALLS) - 1

    def __init__(self) -> None:
        self.found: set[str] = set()
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        window = self._tail + chunk
        self.found.update(declared_params(window))
        self._tail = window[-self.KEEP:]


def stray_params_finding(rel: str, calls: list[str]) -> Finding:
    return warning("engine-stray-python", f"{', '.join(calls)} outside workflow/: the "
                   "engine's compiler scans every .py file for declared params and would "
                   "add these (§2.7)", rel)


def declared_params(source: bytes) -> list[str]:
    """The declaration calls (``workflow_params`` ...) whose text the engine's compiler
    finds in a ``.py`` file's bytes (§2.7: a text search, not a parse)."""
    return [c.decode()[:-1] for c in PARAM_CALLS if c in source]


def stray_python(sources: dict[str, bytes]) -> list[Finding]:
    """§2.7: the compiler reads params from *every* .py file under the root (but target/);
    outside workflow/ and vendor/ such declarations are phantom params or secrets."""
    out = []
    for rel, data in sorted(sources.items()):
        if not rel.endswith(".py") or rel.split("/", 1)[0] in ("workflow", "vendor", "target"):
            continue
        calls = declared_params(data)
        if calls:
            out.append(stray_params_finding(rel, calls))
    return out


JUNK_DIRS = frozenset({"__pycache__", ".venv", ".git", "node_modules", "target"})


def junk_findings(names: set[str]) -> list[Finding]:
    """§6.4.10: what fidius packs from a working tree and a tool would call junk."""
    junk = sorted(n for n in names if n.endswith((".pyc", ".cloacina"))
                  or not JUNK_DIRS.isdisjoint(posixpath.dirname(n).split("/")))
    if not junk:
        return []
    return [warning("engine-junk", f"{len(junk)} file(s) a build would not ship "
                    f"({', '.join(junk[:3])}{', ...' if len(junk) > 3 else ''}): fidius packs "
                    "whatever is in the directory (§1.2)")]
