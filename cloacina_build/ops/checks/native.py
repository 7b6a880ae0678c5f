"""A native payload: the library's facts, read again from the binary, against the
manifest, and the task graph the workflow macros embedded in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...findings import Finding, error
from ...format.elf import (
    NativeError,
    describe_library,
    embedded_metadata,
    embedded_task_graph,
)
from ...model import Manifest


def native_findings(manifest: Manifest, payload_file: Path) -> list[Finding]:
    where = manifest.payload.path
    try:
        actual = describe_library(payload_file)
    except NativeError as exc:
        return [error(exc.code, exc.message, where)]
    declared = manifest.native.to_dict() if manifest.native is not None else {}
    out = [error("native-mismatch", f"the library's {key} is {_short(actual.get(key))}, "
                 f"the manifest says {_short(declared[key])}", where)
           for key in sorted(declared) if actual.get(key) != declared[key]]
    meta = embedded_metadata(payload_file)
    if meta is not None:
        in_binary = embedded_task_graph(meta)
        in_manifest = {t.id: sorted(t.dependencies) for t in manifest.workflow.tasks}
        if in_binary != in_manifest:
            out.append(error("tasks-drift", "the task graph embedded in the library differs "
                             "from the manifest", where))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
