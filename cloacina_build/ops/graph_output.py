"""``graph``'s one call: the task graph of a package or project, rendered in a format, and
with an output file written atomically (never over the input).

The format defaults to the output file's suffix (``.dot``/``.gv``, ``.mmd``/``.mermaid``),
else ``text``; the command line adds nothing of its own but the printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..fsutil import write_output
from .graph_render import RENDERERS
from .graph_view import Graph, graph_path

FORMATS = tuple(RENDERERS)
SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


@dataclass(frozen=True)
class Drawing:
    """A graph, its rendering in ``format``, and where it was written (``output``,
    ``written`` bytes) when it was."""

    graph: Graph
    format: str
    text: str
    output: str | None = None
    written: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = self.graph.to_dict()
        out["output"] = {"path": self.output, "format": self.format,
                         "bytes": self.written} if self.output is not None else None
        return out


def output_format(fmt: str | None, output: Path | str | None) -> str:
    """The format asked for, else the one ``output``'s suffix names, else ``text``."""
    if fmt is None:
        return SUFFIXES.get(Path(output).suffix.lower(), "text") if output else "text"
    if fmt not in RENDERERS:
        raise UsageError(f"unknown graph format {fmt!r}",
                         hint=f"choose one of {', '.join(FORMATS)}")
    return fmt


def draw(path: Path | str, fmt: str | None = None, output: Path | str | None = None
         ) -> Drawing:
    """The task graph at ``path`` rendered in ``fmt`` (see :func:`output_format`), written
    to ``output`` when given.  A broken graph is drawn too (``graph.ok`` is False)."""
    fmt = output_format(fmt, output)
    graph = graph_path(path)
    text = RENDERERS[fmt](graph)
    if output is None:
        return Drawing(graph, fmt, text)
    written = write_output(Path(output), text.encode("utf-8"), source=path)
    return Drawing(graph, fmt, text, str(output), written)
