"""``cloacinactl graph``: the task graph as text, Graphviz dot or Mermaid source."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_FAILED, UsageError
from .options import CloacinaCommand, emit_json, handle_errors, json_option
from .terminal import echo_text, paint, printable

FORMATS = ("text", "dot", "mermaid")
SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


@click.command(cls=CloacinaCommand)
@click.argument("path", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="text (levels; the default), dot (Graphviz) or mermaid (flowchart); "
                   "with -o, the default comes from FILE's suffix (.dot/.gv, .mmd/.mermaid).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the graph to FILE (atomically) instead of standard output.")
@json_option
@handle_errors
def graph(path: str, fmt: str | None, output: str | None, as_json: bool) -> None:
    """Show the task graph of PATH (a package or a project): text, dot or Mermaid.

    The text lists the execution levels, each task with its dependencies and its marks
    (declared retries, a trigger rule that gates it).  With --json, the graph is printed
    as JSON; with -o FILE too, FILE is written in --format and the JSON's "output" says so.
    Exit 1 when the graph is broken (a cycle, an unknown dependency): it is drawn anyway.
    """
    from ..ops.graph_render import RENDERERS
    from ..ops.graph_view import graph_path

    if as_json and fmt and not output:
        raise UsageError("--format chooses what -o FILE holds; with --json and no -o the "
                         "graph is printed as JSON", hint="drop --format, or add -o FILE")
    if output and _same_file(path, output):
        raise UsageError(f"-o {output} is the input itself", hint="choose another FILE")
    if fmt is None:
        fmt = SUFFIXES.get(Path(output).suffix.lower(), "text") if output else "text"
    result = graph_path(path)
    text = RENDERERS[fmt](result)
    written = _write(Path(output), text) if output else None
    if as_json:
        out = result.to_dict()
        out["output"] = {"path": output, "format": fmt, "bytes": written} if output else None
        emit_json(out)
    elif output:
        click.echo(printable(f"wrote {output} ({fmt}: {len(result.nodes)} task(s), "
                             f"{len(result.edges)} dependencies)"))
    else:
        echo_text(text.rstrip("\n"))
    if not result.ok:
        if not as_json:
            lines = [printable(f.render()) for f in result.findings]
            lines.append(f"hint: run 'cloacinactl validate {printable(path)}' to see every "
                         "problem")
            click.echo(paint("\n".join(lines), err=True), err=True)
        sys.exit(EXIT_FAILED)


def _write(path: Path, text: str) -> int:
    from ..fsutil import atomic_output

    data = text.encode("utf-8")
    with atomic_output(path) as fh:
        fh.write(data)
    return len(data)


def _same_file(path: str, output: str) -> bool:
    try:
        return Path(output).exists() and Path(path).samefile(output)
    except OSError:
        return False
