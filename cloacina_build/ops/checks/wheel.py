"""A wheel payload: its structure and RECORD, and its tasks rediscovered from its source
and compared with the manifest."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ...findings import Finding, error, has_errors
from ...format.limits import Limits
from ...format.wheel import (
    ZIP_ERRORS,
    comparable,
    discover_in_wheel,
    record_findings,
    structure_findings,
)
from ...format.wheel_install import install_findings
from ...model import Manifest, Workflow
from ...project.discovery import Discovery


def wheel_findings(manifest: Manifest, payload_file: Path, limits: Limits) -> list[Finding]:
    where = manifest.payload.path
    wf = manifest.workflow
    try:
        zf = zipfile.ZipFile(payload_file)
    except ZIP_ERRORS as exc:
        return [error("wheel-bad-zip", f"the payload is not a readable wheel: {exc}", where)]
    with zf:
        out = structure_findings(zf, limits, where)
        if has_errors(out):
            return out
        out += record_findings(payload_file, where)
        try:
            out += install_findings(zf, where)
            found = discover_in_wheel(zf, wf.entry_module, wf.name)
        except ZIP_ERRORS as exc:
            return out + [error("wheel-bad-zip", f"cannot read the wheel's source: {exc}",
                                where)]
    if wf.entry_module not in found.modules:  # its parent packages may be there
        return out + [error("tasks-entry-missing", f"entry module '{wf.entry_module}' is "
                            "not in the wheel", where)]
    out += [Finding("tasks-rediscovery", f.severity, f.message, f.location)
            for f in found.findings]
    return out + drift_findings(wf, found, where)


def drift_findings(wf: Workflow, found: Discovery, where: str) -> list[Finding]:
    """The manifest's workflow against what the wheel's source declares."""
    out = _task_drift(wf, found, where)
    for key in ("triggers", "params"):
        ours = sorted(getattr(wf, key), key=lambda x: x.name)
        theirs = sorted(getattr(found, key), key=lambda x: x.name)
        if [x.to_dict() for x in ours] != [x.to_dict() for x in theirs]:
            out.append(error("tasks-drift", f"the {key} in the manifest differ from the "
                             "wheel's source", where))
    if sorted(wf.secrets) != sorted(found.secrets):
        out.append(error("tasks-drift", "the secrets in the manifest differ from the "
                         "wheel's source", where))
    return out


def _task_drift(wf: Workflow, found: Discovery, where: str) -> list[Finding]:
    declared_, actual = comparable(wf.tasks), comparable(found.tasks)
    out = []
    for task_id in sorted(set(declared_) | set(actual)):
        if task_id not in actual:
            out.append(error("tasks-drift", f"task '{task_id}' is in the manifest but not "
                             "in the wheel's source", where))
        elif task_id not in declared_:
            out.append(error("tasks-drift", f"task '{task_id}' is in the wheel's source but "
                             "not in the manifest", where))
        elif declared_[task_id] != actual[task_id]:
            what = [n for n, a, b in zip(("function", "dependencies", "fingerprint"),
                                         declared_[task_id], actual[task_id], strict=True)
                    if a != b]
            out.append(error("tasks-drift", f"task '{task_id}' differs between the manifest "
                             f"and the wheel's source ({', '.join(what)})", where))
    return out
