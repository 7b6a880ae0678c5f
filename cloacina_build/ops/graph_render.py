"""A :class:`~cloacina_build.ops.graph_view.Graph` as text, Graphviz ``dot`` or Mermaid
``flowchart`` source: library functions returning ``str``, so a runtime or a UI can use
them as the command line does.  Each is one pass over nodes and edges.

Task ids and rules come from packages, so they are data, escaped for each language:

- every form first shows control characters, the Unicode controls that reorder or break
  lines, and lone surrogates as ``\\x1b``-style escapes (``safe_text.visible``, as the
  terminal does): no output holds a raw line break of the package's, and every output
  encodes as UTF-8;
- ``dot``: ids are double-quoted with ``\\`` and ``"`` escaped and a leading ``%`` written
  ``\\x25`` (the mapping from task id to DOT id is one-to-one, so no two tasks share a node
  and no task is split in two); labels are escaped the same way, so ``\\N``-style label
  escapes in a task id are shown, not expanded;
- Mermaid: node ids are generated (``t0``, ``t1``, ...: never a keyword such as ``end``),
  and labels are quoted (``["..."]``) with every character outside a small safe set
  written as an entity code (``#quot;``, ``#35;``), so brackets, pipes, backticks, ``<``
  and ``#`` in a task id are text.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..safe_text import visible
from .describe import KIND_NAMES
from .graph_view import Graph, GraphNode


def _marks(node: GraphNode) -> list[str]:
    out = []
    if node.retries:
        out.append(f"retries: {node.retries}")
    if node.when:
        out.append(f"when: {node.when}")
    return out


# -- text ------------------------------------------------------------------------------

def to_text(graph: Graph) -> str:
    """Levels, each task with its dependencies (``<-``) and marks (``[retries: N]``,
    ``[when: RULE]``); tasks that no level holds (on or behind a cycle) at the end."""
    return "\n".join(_text_lines(graph)) + "\n"


def _text_lines(graph: Graph) -> Iterator[str]:
    by_id = {n.id: n for n in graph.nodes}
    yield (f"{visible(graph.workflow)} ({visible(graph.package)} {visible(graph.version)}, "
           f"{KIND_NAMES.get(graph.kind, graph.kind)}): {len(graph.nodes)} task(s), "
           f"{len(graph.edges)} dependenc{'y' if len(graph.edges) == 1 else 'ies'}, "
           f"{len(graph.levels)} level(s)")
    for i, level in enumerate(graph.levels, 1):
        yield f"level {i}"
        for tid in level:
            yield _text_task(by_id[tid])
    unplaced = [n for n in graph.nodes if n.level is None]
    if unplaced:
        yield "not placed (on a dependency cycle, or depending on one)"
        for node in unplaced:
            yield _text_task(node)
    legend = []
    if any(n.retries for n in graph.nodes):
        legend.append("[retries: N] retried up to N times after a failure")
    if any(n.when for n in graph.nodes):
        legend.append("[when: RULE] runs only when its trigger rule holds, else skipped")
    if legend:
        yield "marks: " + "; ".join(legend)


def _text_task(node: GraphNode) -> str:
    deps = [visible(d) for d in node.dependencies]
    deps += [f"{visible(d)} (no such task)" for d in node.missing]
    line = "  " + visible(node.id)
    if deps:
        line += " <- " + ", ".join(deps)
    marks = _marks(node)
    if marks:
        line += "  " + " ".join(f"[{visible(m)}]" for m in marks)
    return line


# -- Graphviz dot ----------------------------------------------------------------------

def dot_id(text: str) -> str:
    """A double-quoted DOT ID: ``\\`` doubled, ``"`` escaped, control characters as
    single-backslash escapes (which no escaped text can spell: one-to-one), and a leading
    ``%`` as ``\\x25``: Graphviz takes a name starting with ``%`` for one of its own
    anonymous ids, so ``"%a"`` twice would be two nodes."""
    quoted = visible(text.replace("\\", "\\\\").replace('"', '\\"'))
    return f'"\\x25{quoted[1:]}"' if quoted.startswith("%") else f'"{quoted}"'


def _dot_label(lines: list[str]) -> str:
    """A label of several lines, each shown as it is (``\\n`` between them only)."""
    return "\\n".join(visible(line).replace("\\", "\\\\").replace('"', '\\"')
                      for line in lines)


def to_dot(graph: Graph) -> str:
    """Graphviz ``digraph`` source: one node per task (a double border when it retries,
    a dashed one when a trigger rule gates it), one edge per dependency, from the
    dependency to its dependent."""
    title = f"{graph.workflow} ({graph.package} {graph.version})"
    lines = [f"digraph {dot_id(graph.workflow)} {{",
             f'  graph [label="{_dot_label([title])}", labelloc=t, fontname="Helvetica"];',
             '  node [shape=box, style=rounded, fontname="Helvetica"];']
    for node in graph.nodes:
        attrs = [f'label="{_dot_label([node.id, *_marks(node)])}"']
        if node.retries:
            attrs.append("peripheries=2")
        if node.when:
            attrs.append('style="rounded,dashed"')
        lines.append(f"  {dot_id(node.id)} [{', '.join(attrs)}];")
    lines += [f"  {dot_id(a)} -> {dot_id(b)};" for a, b in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- Mermaid ---------------------------------------------------------------------------

_MERMAID_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                          " _.,:=/+*'!?()-")


def _mermaid_char(c: str) -> str:
    if c in _MERMAID_SAFE or (c > "\x7f" and c.isprintable()):
        return c
    return "#quot;" if c == '"' else f"#{ord(c)};"


def mermaid_text(text: str) -> str:
    """Text for inside a Mermaid ``"..."`` label: anything but letters, digits and a few
    plain punctuation marks as an entity code."""
    return "".join(_mermaid_char(c) for c in visible(text))


def to_mermaid(graph: Graph) -> str:
    """Mermaid ``flowchart TD`` source: nodes ``t0``, ``t1``, ... (in the graph's order)
    labelled with the task id and its marks, one ``-->`` per dependency, and the classes
    ``retries`` (a thick border) and ``gated`` (a dashed one)."""
    ids = {n.id: f"t{i}" for i, n in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    for node in graph.nodes:
        label = "<br/>".join(mermaid_text(line) for line in [node.id, *_marks(node)])
        lines.append(f'  {ids[node.id]}["{label}"]')
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges]
    retried = [ids[n.id] for n in graph.nodes if n.retries]
    gated = [ids[n.id] for n in graph.nodes if n.when]
    if retried:
        lines += ["  classDef retries stroke-width:3px",
                  f"  class {','.join(retried)} retries"]
    if gated:
        lines += ["  classDef gated stroke-dasharray:5 5", f"  class {','.join(gated)} gated"]
    return "\n".join(lines) + "\n"


RENDERERS = {"text": to_text, "dot": to_dot, "mermaid": to_mermaid}
