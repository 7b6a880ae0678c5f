"""The workflow as a whole: its task graph and its fingerprint."""

from __future__ import annotations

from ...findings import Finding, error
from ...format import manifest as mf
from ...model import Workflow
from ..project_bridge import fingerprint, graph_problems


def workflow_findings(wf: Workflow) -> list[Finding]:
    out = graph_problems(wf)
    if fingerprint(wf) != wf.fingerprint:
        out.append(error("workflow-fingerprint", "the workflow fingerprint does not match "
                         "its tasks", mf.MANIFEST))
    return out
