"""A validation report as SARIF 2.1.0, the log format code-scanning tools read.

One ``run``: ``tool.driver`` names cloacinactl with one rule per finding code used (its
summary and documentation from :mod:`cloacina_build.codes`, ``helpUri`` into the findings
table of docs/format.md); one ``result`` per finding.

Locations.  A project's findings name files relative to the project (``package.toml``,
``workflow/pkg/tasks.py:12``); in SARIF they become URIs relative to ``%SRCROOT%``, the root
of the git work tree holding the project (else the working directory, when the project
lies below it, else the project itself), with ``region.startLine`` when the finding has a
line.  A package's findings name members inside the archive: the result's location is the
package file, and the member is a logical location and the start of the message.  No URI
is ever absolute, so a SARIF file says the same on every machine.

Fingerprints.  ``partialFingerprints["cloacinaFinding/v1"]`` is a hash of the rule, the URI,
the member (packages) and the message with its volatile parts (numbers and digests outside
quoted names) made constant, plus an occurrence count for identical findings in one file:
it holds across runs and when lines move.  ``primaryLocationLineHash`` is left to GitHub's
``upload-sarif``, which computes it from the source line itself (it warns when a file
carries a different value under that key).  See docs/sarif.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from .. import codes
from ..__about__ import __url__, __version__
from ..errors import EXIT_FAILED, CloacinaError
from ..findings import Finding, error
from ..model import Severity
from ..progress import NO_PROGRESS, Progress
from .validate import ValidationPolicy, ValidationReport, validate_path

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
SRCROOT = "%SRCROOT%"
FINGERPRINT = "cloacinaFinding/v1"
DOCS = f"{__url__}/blob/main/docs/"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}
_ROOTS = {
    "repository": "the root of the git work tree that holds what was validated",
    "working directory": "the working directory cloacinactl validate ran in",
    "project": "the project directory that was validated",
    "package directory": "the directory that holds the package that was validated",
}


@dataclass(frozen=True)
class Anchor:
    """Where a report's paths sit below ``%SRCROOT%`` (posix, relative, "" for the root).

    ``base``: the project directory, which a project's finding paths are relative to;
    ``target``: the file a finding without a file of its own is put on (the package file,
    or the project's configuration file); ``root``: what ``%SRCROOT%`` is (a key of
    ``_ROOTS``)."""

    base: str
    target: str
    root: str


def sarif_report(report: ValidationReport, anchor: Anchor | None = None) -> dict[str, Any]:
    """The SARIF log of ``report``: a JSON-ready dict.  Pure when ``anchor`` is given;
    otherwise :func:`locate` finds it from the file system."""
    anchor = anchor if anchor is not None else locate(report)
    used = sorted({f.code for f in report.findings})
    index = {code: i for i, code in enumerate(used)}
    results = [_result(f, report.kind, anchor, index[f.code]) for f in report.findings]
    _number_fingerprints(results)
    run = {
        "tool": {"driver": {
            "name": "cloacinactl",
            "fullName": "cloacinactl validate (cloacina-build)",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": __url__,
            "rules": [rule(code) for code in used],
        }},
        "originalUriBaseIds": {SRCROOT: {"description": {"text": _ROOTS[anchor.root]}}},
        "results": results,
        "properties": {"kind": report.kind, "valid": report.ok,
                       "package": {"name": report.name, "version": report.version}},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def rule(code: str) -> dict[str, Any]:
    """The reporting descriptor of one finding code, from the registry (a code missing
    from it, which a test forbids, still gets a rule, named by the code alone)."""
    known = codes.info(code) or codes.CodeInfo(code, Severity.ERROR, code, "format.md")
    summary, severity, group = known.summary, known.severity, known.group
    page = known.doc.partition("#")[0]
    help_uri = f"{DOCS}format.md#{codes.anchor(code)}"
    article = "an" if severity is Severity.ERROR else "a"
    full = (f"{summary[:1].upper()}{summary[1:]}: {article} {severity.value} of the {group} "
            f"checks of cloacinactl validate.")
    markdown = f"**`{code}`** ({group}, {severity.value}): {summary}.\n\n" \
               f"See [the findings table]({help_uri})"
    if page != "format.md":
        full += f" docs/{page} explains it."
        markdown += f" and [docs/{page}]({DOCS}{known.doc})"
    return {
        "id": code,
        "name": "".join(part.capitalize() for part in code.split("-")),
        "shortDescription": {"text": summary},
        "fullDescription": {"text": full},
        "helpUri": help_uri,
        "help": {"text": f"{code}: {summary}. See {help_uri}", "markdown": markdown + "."},
        "defaultConfiguration": {"level": _LEVELS.get(severity, "note")},
        "properties": {"tags": ["cloacina", group]},
    }


def _result(f: Finding, kind: str, anchor: Anchor, rule_index: int) -> dict[str, Any]:
    text = f.message
    logical: str | None = None
    line: int | None = None
    if kind == "project":
        where = project_file(f.location)
        if where is None:  # no location, or one that is not a file of the project
            uri = anchor.target
            text = f"{f.location}: {text}" if f.location else text
        else:
            uri = _join(anchor.base, where[0])
            line = where[1]
    else:  # a package: the file is the package, the member is a logical location
        uri, logical = anchor.target, f.location
        text = f"{f.location}: {text}" if f.location else text
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(uri, safe="/"),
                                                     "uriBaseId": SRCROOT}}
    if line is not None:
        physical["region"] = {"startLine": line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if logical:
        location["logicalLocations"] = [{"name": logical.rsplit("/", 1)[-1],
                                         "fullyQualifiedName": logical}]
    return {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": _LEVELS.get(f.severity, "note"),
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint(f.code, uri, logical, f.message)},
    }


def project_file(location: str | None) -> tuple[str, int | None] | None:
    """``workflow/pkg/tasks.py:12`` -> ``("workflow/pkg/tasks.py", 12)``; ``package.toml``
    -> ``("package.toml", None)``; None for no location or one that is not a relative path
    inside the project (absolute, or climbing out with ``..``).  A line below 1 (a syntax
    error at the end of a file says 0) is no line."""
    if not location:
        return None
    path, line = split_line(location)
    posix = PurePosixPath(path)
    if not posix.parts or posix.is_absolute() or ".." in posix.parts or "\\" in path \
            or ":" in posix.parts[0]:  # a drive letter
        return None
    return posix.as_posix(), line if line is not None and line >= 1 else None


def split_line(location: str) -> tuple[str, int | None]:
    """A finding's location as ``(place, line)``: ``tasks.py:12`` -> ``("tasks.py", 12)``;
    a location without a ``:LINE`` of ASCII digits is all place (``None``)."""
    head, sep, tail = location.rpartition(":")
    if sep and head and tail.isascii() and tail.isdigit():
        return head, int(tail)
    return location, None


def _join(base: str, path: str) -> str:
    return f"{base}/{path}" if base else path


_QUOTED = re.compile(r"(?<!\w)'[^'\n]*'(?!\w)")
_VOLATILE = re.compile(r"(?<![A-Za-z0-9_])(?:[0-9a-f]{12,}(?:\.\.\.|…)?|\d+)")


def normalise(message: str) -> str:
    """The message with what moves between runs made constant: outside quoted names, a
    digest (12 or more hex digits) becomes ``<hex>`` and every other number ``<n>`` (line
    numbers, sizes, counts); digits that end a word (sha256) stay.  Quoted names
    ('task_2') are kept whole: they say which."""
    out, last = [], 0
    for m in _QUOTED.finditer(message):
        out.append(_VOLATILE.sub(_placeholder, message[last:m.start()]))
        out.append(m.group())
        last = m.end()
    out.append(_VOLATILE.sub(_placeholder, message[last:]))
    return "".join(out)


def _placeholder(m: re.Match[str]) -> str:
    return "<n>" if m.group().isdigit() else "<hex>"


def fingerprint(code: str, uri: str, member: str | None, message: str) -> str:
    """sha256 of the rule, the file, the member (a package's; its line dropped) and the
    normalised message: the same finding gets the same value wherever its line moves."""
    place = split_line(member)[0] if member else ""
    text = "\0".join((code, uri, place, normalise(message)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _number_fingerprints(results: list[dict[str, Any]]) -> None:
    """``HASH:N``: the N-th result with the same hash (in the report's order, which is by
    code, then location), so identical findings stay distinct and keep their numbers."""
    seen: dict[str, int] = {}
    for result in results:
        prints = result["partialFingerprints"]
        value = prints[FINGERPRINT]
        seen[value] = seen.get(value, 0) + 1
        prints[FINGERPRINT] = f"{value}:{seen[value]}"


def locate(report: ValidationReport, cwd: Path | None = None) -> Anchor:
    """The :class:`Anchor` of ``report`` on this machine: the git work tree holding the
    validated path (the nearest parent with ``.git``, a directory or a worktree's file),
    else the working directory when the path lies below it, else the path itself (a
    project) or its directory (a package).  Symbolic links are resolved first, as code
    scanning matches only resolved paths."""
    path = Path(report.path).resolve()
    here = (cwd or Path.cwd()).resolve()
    folder = path if report.kind == "project" else path.parent
    top = _work_tree(folder)
    if top is not None:
        root, what = top, "repository"
    elif path.is_relative_to(here):
        root, what = here, "working directory"
    else:
        root, what = folder, "project" if report.kind == "project" else "package directory"
    rel = path.relative_to(root).as_posix()
    rel = "" if rel == "." else rel
    if report.kind != "project":
        return Anchor("", rel, what)
    return Anchor(rel, _join(rel, _config_name(path)), what)


def _work_tree(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _config_name(project: Path) -> str:
    from ..project.config import find_config

    try:
        return find_config(project)[0].name
    except CloacinaError:
        return "package.toml"


def failed_report(path: Path | str, exc: CloacinaError) -> ValidationReport:
    """A report for a project or package too broken to validate (invalid TOML, say): the
    error's own findings, else one finding of its code and message, so that SARIF still
    carries the problem."""
    kind = "project" if Path(path).is_dir() else "package"
    findings = list(exc.findings) or [error(exc.code, exc.message)]
    return ValidationReport(str(path), kind, findings)


def validate_for_sarif(path: Path | str, policy: ValidationPolicy | None = None, *,
                       progress: Progress = NO_PROGRESS
                       ) -> tuple[ValidationReport, CloacinaError | None]:
    """:func:`validate_path` for a SARIF consumer: a project or package too broken to
    validate at all (exit 1: invalid TOML, say) becomes a report of that error
    (:func:`failed_report`), so a SARIF file still says what is wrong; the error is
    returned beside it for the caller to show.  Usage and environment errors (exit 2)
    are raised as usual."""
    try:
        return validate_path(path, policy, progress=progress), None
    except CloacinaError as exc:
        if exc.exit_code != EXIT_FAILED:
            raise
        return failed_report(path, exc), exc
