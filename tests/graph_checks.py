"""Independent checks of the graph renderers' output: Graphviz's own ``dot`` parses and
lays out the dot source (tests that need it skip, naming it, when it is not installed); a
small regex-based checker reads the Mermaid source (mermaid-cli needs node, which is not
part of this project's toolchain)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's 'dot' program is not "
                               "installed (apt-get install graphviz)")


def dot_layout(source: str) -> dict:
    """``dot -Tjson``: Graphviz parses and lays the graph out, or the test fails."""
    assert DOT is not None
    done = subprocess.run([DOT, "-Tjson"], input=source.encode("utf-8"), capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return json.loads(done.stdout)


def dot_nodes(layout: dict) -> dict[str, dict]:
    return {o["name"]: o for o in layout.get("objects", [])}


def dot_name(name: str) -> str:
    """A node name as Graphviz read it, back to the task id: ``dot`` turns ``\\"`` into
    ``"`` and keeps every other backslash, so ``\\\\`` and ``\\xNN``-style escapes
    remain."""
    def one(m: re.Match[str]) -> str:
        if m[1] in SHORT:
            return SHORT[m[1]]
        return chr(int(m[1][1:], 16))
    return re.sub(r"\\([\\ntr]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})", one, name)


SHORT = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


# -- an independent Mermaid checker ------------------------------------------------------

_ENTITY = r"#(?:quot|\d+);"
_LABEL_CHAR = r"[A-Za-z0-9 _.,:=/+*'!?()\-]"
_LABEL = re.compile(rf"(?:{_ENTITY}|{_LABEL_CHAR}|<br/>|[^\x00-\x7f])*")
MERMAID_NODE = re.compile(r'  (t\d+)\["([^"\n]*)"\]')
MERMAID_EDGE = re.compile(r"  (t\d+) --> (t\d+)")
MERMAID_CLASS = re.compile(r"  classDef [a-z]+ [a-z-]+:[0-9a-z ]+|  class (t\d+(?:,t\d+)*) "
                           r"[a-z]+")


def decode_entities(text: str) -> str:
    return re.sub(_ENTITY, lambda m: '"' if m[0] == "#quot;" else chr(int(m[0][1:-1])), text)


def check_mermaid(source: str) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Every line is the header, a node, an edge or a class line; labels hold only plain
    characters, entity codes and ``<br/>``; edges join declared nodes.  Returns the
    labels (each split at ``<br/>`` and decoded) by node id, and the edges."""
    lines = source.split("\n")
    assert lines[0] == "flowchart TD" and lines[-1] == "", source
    nodes: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if m := MERMAID_NODE.fullmatch(line):
            assert _LABEL.fullmatch(m[2]), line
            assert m[1] not in nodes, line
            nodes[m[1]] = [decode_entities(part) for part in m[2].split("<br/>")]
        elif m := MERMAID_EDGE.fullmatch(line):
            assert m[1] in nodes and m[2] in nodes, line
            edges.append((m[1], m[2]))
        else:
            m = MERMAID_CLASS.fullmatch(line)
            assert m, line
            assert all(n in nodes for n in (m[1] or "").split(",") if n), line
    return nodes, edges
