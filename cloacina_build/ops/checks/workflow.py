"""The workflow as a whole: its task graph and its fingerprint."""

from __future__ import annotations

from ...findings import Finding, error
from ...format import manifest as mf
from ...model import Workflow
from ...project.fingerprint import workflow_fingerprint
from ...project.graph import graph_findings


def workflow_findings(wf: Workflow) -> list[Finding]:
    out = graph_findings(list(wf.tasks), wf.name)
    if workflow_fingerprint(wf.name, wf.tasks, wf.fingerprint_algorithm) != wf.fingerprint:
        out.append(error("workflow-fingerprint", "the workflow fingerprint does not match "
                         "its tasks", mf.MANIFEST))
    return out
