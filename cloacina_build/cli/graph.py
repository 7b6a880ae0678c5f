"""``cloacinactl graph``: the task graph as text, Graphviz dot or Mermaid source."""

from __future__ import annotations

import sys

import click

from ..errors import EXIT_FAILED, UsageError
from .options import CloacinaCommand, emit_json, handle_errors, json_option
from .terminal import echo_text, paint, printable

FORMATS = ("text", "dot", "mermaid")   # ops.graph_output.FORMATS (not imported: --help)


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
    from ..ops.graph_output import draw

    if as_json and fmt and not output:
        raise UsageError("--format chooses what -o FILE holds; with --json and no -o the "
                         "graph is printed as JSON", hint="drop --format, or add -o FILE")
    drawn = draw(path, fmt, output)
    result = drawn.graph
    if as_json:
        emit_json(drawn.to_dict())
    elif output:
        click.echo(printable(f"wrote {output} ({drawn.format}: {len(result.nodes)} task(s), "
                             f"{len(result.edges)} dependencies)"))
    else:
        echo_text(drawn.text.rstrip("\n"))
    if not result.ok:
        if not as_json:
            lines = [printable(f.render()) for f in result.findings]
            lines.append(f"hint: run 'cloacinactl validate {printable(path)}' to see every "
                         "problem")
            click.echo(paint("\n".join(lines), err=True), err=True)
        sys.exit(EXIT_FAILED)
