"""What the loader's install step needs from a wheel, checked without installing it.

The loader installs the payload with ``installer`` (``runtime/cache.py``).  Everything that
step reads or decides is checked here first, read the way ``installer`` reads it (its own
``WheelFile`` finds the ``.dist-info`` and ``.data`` directories, its own entry-point parser
reads ``entry_points.txt``), so a wheel that validates also installs: the ``.dist-info``
directory, the ``.data`` directory and its schemes, ``WHEEL`` and its ``Wheel-Version``,
``METADATA`` (read with ``packaging``), the scripts made from entry points, RECORD entries
for files the wheel lacks, and two files that would be installed to the same place.

Called only after :func:`.wheel.structure_findings` passed: every entry name is normal, no
``..``, no duplicates.
"""

from __future__ import annotations

import configparser
import re
import zipfile
from dataclasses import dataclass, field

from ..findings import Finding, error
from .limits import MiB

SCHEMES = ("purelib", "platlib", "headers", "scripts", "data")  # installer's SCHEME_NAMES
MAX_DIST_INFO_FILE = 16 * MiB  # WHEEL, METADATA, entry_points.txt, RECORD
_SCRIPT_NAME = re.compile(r"[\w+-][\w.+-]{0,254}", re.ASCII)
_WHEEL_VERSION = re.compile(r"(\d{1,9})\.(\d{1,9})")
# Where the loader puts each scheme (runtime/cache.py): purelib and platlib share site/.
_TARGET = {"purelib": "site", "platlib": "site", "headers": "include", "scripts": "bin",
           "data": "data"}


@dataclass
class _Wheel:
    zf: zipfile.ZipFile
    where: str
    dist_info: str
    data_dir: str
    identity: tuple[str, str]  # name and version, from the file name
    files: list[str]
    findings: list[Finding] = field(default_factory=list)

    def read(self, name: str, code: str) -> str | None:
        """A .dist-info file as UTF-8 text; None (with a finding under ``code``) if it is
        missing, too large or not UTF-8."""
        path = f"{self.dist_info}/{name}"
        try:
            info = self.zf.getinfo(path)
        except KeyError:
            self.findings.append(error(code, f"the wheel has no {path}", self.where))
            return None
        with self.zf.open(info) as fh:
            data = fh.read(MAX_DIST_INFO_FILE + 1)
        if len(data) > MAX_DIST_INFO_FILE:
            self.findings.append(error("wheel-limit-dist-info", f"{path} is larger than "
                                       f"{MAX_DIST_INFO_FILE // MiB} MiB", self.where))
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            enc = "wheel-metadata-encoding" if name == "METADATA" else code
            self.findings.append(error(enc, f"{path} is not UTF-8 ({exc.reason} at byte "
                                       f"{exc.start})", self.where))
            return None


def install_findings(zf: zipfile.ZipFile, where: str) -> list[Finding]:
    """Everything the install step would refuse, fail on or loop over (see the module)."""
    wheel = _open(zf, where)
    if isinstance(wheel, list):
        return wheel
    out = _data_findings(wheel)
    out += _wheel_file_findings(wheel)
    out += _metadata_findings(wheel)
    scripts, found = _entry_point_findings(wheel)
    out += found
    out += _record_dangling(wheel)
    if not out and not wheel.findings:
        out += _collision_findings(wheel, scripts)
    return out + wheel.findings


def _open(zf: zipfile.ZipFile, where: str) -> _Wheel | list[Finding]:
    """The .dist-info and .data names, found by installer's own WheelFile."""
    from installer.sources import WheelFile

    try:
        source = WheelFile(zf)
    except ValueError as exc:
        return [error("payload-name", f"the installer cannot read the wheel's file name: "
                      f"{exc}", where)]
    try:
        dist_info = source.dist_info_dir
    except ValueError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        return [error("wheel-dist-info", f"{reason}: the installer refuses it", where)]
    files = [i.filename for i in zf.infolist() if not i.filename.endswith("/")]
    return _Wheel(zf, where, dist_info, source.data_dir,
                  (source.distribution, source.version), files)


def _data_findings(wheel: _Wheel) -> list[Finding]:
    """The .data directory: a directory of scheme directories, named exactly as the
    installer expects (a file in its place makes the installer loop forever)."""
    out = []
    for name in wheel.files:
        top, *rest = name.split("/")
        if top != wheel.data_dir:
            if _misnamed_data_dir(wheel, top):
                out.append(error("wheel-data-dir", f"{name!r} is in a .data directory the "
                                 f"installer does not know (it expects {wheel.data_dir!r}: "
                                 "this would be installed as a plain directory)", wheel.where))
        elif len(rest) < 2:
            what = "the .data directory is a file" if not rest else \
                "a file directly in the .data directory, outside any scheme directory"
            out.append(error("wheel-data-dir", f"{name!r}: {what}", wheel.where))
        elif rest[0] not in SCHEMES:
            out.append(error("wheel-data-scheme", f"{name!r} is in an unknown .data scheme "
                             f"{rest[0]!r} (known: {', '.join(SCHEMES)})", wheel.where))
    return out


def _misnamed_data_dir(wheel: _Wheel, top: str) -> bool:
    """``top`` is this distribution's .data directory spelt otherwise (another case,
    separator or version); other names ending in .data are ordinary files or packages."""
    from packaging.utils import canonicalize_name

    if not top.endswith(".data"):
        return False
    name, sep, _version = top[:-len(".data")].rpartition("-")
    return bool(sep) and canonicalize_name(name) == canonicalize_name(wheel.identity[0])


def _wheel_file_findings(wheel: _Wheel) -> list[Finding]:
    """WHEEL must say Wheel-Version 1.x: the only major version the installer reads."""
    from installer.utils import parse_metadata_file

    text = wheel.read("WHEEL", "wheel-version-missing")
    if text is None:
        return []
    version = parse_metadata_file(text)["Wheel-Version"]
    if version is None:
        return [error("wheel-version-missing", f"{wheel.dist_info}/WHEEL has no "
                      "Wheel-Version", wheel.where)]
    match = _WHEEL_VERSION.fullmatch(version.strip())
    if match is None or match.group(1) != "1":
        return [error("wheel-version-unsupported", f"Wheel-Version {version.strip()[:40]!r}"
                      " is not supported (only 1.x)", wheel.where)]
    return []


def _metadata_findings(wheel: _Wheel) -> list[Finding]:
    """METADATA parsed by packaging: every field it knows well formed, Name and Version
    present and the wheel's own."""
    from packaging.metadata import parse_email
    from packaging.utils import canonicalize_name

    text = wheel.read("METADATA", "wheel-metadata-invalid")
    if text is None:
        return []
    raw, unparsed = parse_email(text)
    problems = [f"field {key!r} is malformed" for key in sorted(unparsed)
                if _known_field(key)]
    for key in ("metadata_version", "name", "version"):
        if not raw.get(key):
            problems.append(f"{key.replace('_', '-').title()} is missing")
    dist, dist_version = wheel.identity
    name, version = raw.get("name"), raw.get("version")
    if name and canonicalize_name(name) != canonicalize_name(dist):
        problems.append(f"it names {name[:80]!r}, not the wheel's {dist!r}")
    if version:
        problems += _version_problems(version, dist_version)
    return [error("wheel-metadata-invalid", f"{wheel.dist_info}/METADATA: {p}", wheel.where)
            for p in problems]


def _version_problems(version: str, wheel_version: str) -> list[str]:
    from packaging.version import InvalidVersion, Version

    try:
        ours = Version(version)
    except InvalidVersion:
        return [f"version {version[:40]!r} is not a PEP 440 version"]
    try:
        same = ours == Version(wheel_version)
    except InvalidVersion:  # the file name's version: payload-name reports it
        return []
    return [] if same else [f"it says version {version[:40]!r}, not the wheel's "
                            f"{wheel_version!r}"]


def _known_field(key: str) -> bool:
    """A core metadata field packaging reads (its raw names are the email names with '_',
    multiple-use ones in the plural)."""
    from packaging.metadata import RawMetadata

    raw = key.replace("-", "_")
    return raw in RawMetadata.__annotations__ or raw + "s" in RawMetadata.__annotations__


def _entry_point_findings(wheel: _Wheel) -> tuple[list[str], list[Finding]]:
    """entry_points.txt read by the installer's own parser; each console or GUI script
    name must be a plain file name (the installer writes bin/NAME)."""
    from installer.utils import parse_entrypoints

    name = f"{wheel.dist_info}/entry_points.txt"
    if name not in wheel.files:
        return [], []
    text = wheel.read("entry_points.txt", "wheel-entry-points-syntax")
    if text is None:
        return [], []
    try:
        scripts = [ep[0] for ep in parse_entrypoints(text)]
    except (configparser.Error, AssertionError, AttributeError, ValueError) as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else "a script is not 'module:attr'"
        return [], [error("wheel-entry-points-syntax", f"{name} cannot be parsed: {why}",
                          wheel.where)]
    out = []
    seen: set[str] = set()
    for script in scripts:
        if not _SCRIPT_NAME.fullmatch(script):
            out.append(error("wheel-entry-point-name", f"entry point {script[:80]!r} is "
                             "not a safe script name (letters, digits, '_', '-', '+', '.')",
                             wheel.where))
        elif script.casefold() in seen:
            out.append(error("wheel-entry-point-name", f"script {script!r} is declared "
                             "twice", wheel.where))
        seen.add(script.casefold())
    return scripts, out


def _record_dangling(wheel: _Wheel) -> list[Finding]:
    """RECORD entries for files the wheel does not hold (files RECORD lacks, and wrong
    hashes, are :func:`.wheel.record_findings`'s)."""
    from .wheel_index import record_rows

    if f"{wheel.dist_info}/RECORD" not in wheel.files:
        return []  # reported by record_findings
    text = wheel.read("RECORD", "wheel-record")
    if text is None:
        return []
    rows, _ = record_rows(text, wheel.where)  # a row it refuses: record_findings says so
    listed = [row.path for row in rows]
    present = set(wheel.files)
    missing = sorted({p for p in listed if p not in present})
    return [error("wheel-record-dangling", f"RECORD lists {p[:200]!r}, which the wheel does "
                  "not contain", wheel.where) for p in missing[:20]]


def _collision_findings(wheel: _Wheel, scripts: list[str]) -> list[Finding]:
    """Two files the installer would write to one place, or a file where it needs a
    directory (compared case-insensitively, as on the file systems that fold case)."""
    targets: dict[str, list[str]] = {f"site/{wheel.dist_info}/RECORD".casefold(): ["RECORD"]}
    for script in scripts:
        targets.setdefault(f"bin/{script}".casefold(), []).append(f"script {script!r}")
    for name in wheel.files:
        target = _target(wheel, name)
        if target is not None:
            targets.setdefault(target.casefold(), []).append(repr(name))
    out = []
    for target, sources in sorted(targets.items()):
        clash = sources[1:] or [s for p in _parents(target) for s in targets.get(p, ())]
        if clash:
            out.append(error("wheel-install-collision", f"{sources[0]} and {clash[0]} would "
                             f"both be installed at {target!r} (or one inside the other)",
                             wheel.where))
    return out[:20]


def _target(wheel: _Wheel, name: str) -> str | None:
    """Where the loader's installer writes ``name`` (None: not written by it)."""
    if name == f"{wheel.dist_info}/RECORD" or "__pycache__" in name.split("/")[:-1]:
        return None
    top, _, rest = name.partition("/")
    if top != wheel.data_dir:
        return f"site/{name}"
    scheme, _, path = rest.partition("/")
    return f"{_TARGET[scheme]}/{path}"


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(2, len(parts))]
