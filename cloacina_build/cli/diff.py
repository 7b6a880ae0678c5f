"""``cloacinactl diff OLD NEW``: what changed between two versions of a workflow."""

from __future__ import annotations

import sys

import click

from ..errors import EXIT_FAILED
from .options import QUIET, CloacinaCommand, emit_json, handle_errors, json_option, verbosity
from .terminal import printable


@click.command(cls=CloacinaCommand)
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@click.option("--payload", is_flag=True,
              help="Also compare the payloads file by file (reads both packages whole).")
@click.option("--exit-zero", is_flag=True,
              help="Exit 0 when the workflows differ too (errors still exit 2).")
@json_option
@handle_errors
def diff(old: str, new: str, payload: bool, exit_zero: bool, as_json: bool) -> None:
    """Show what changed from OLD to NEW: tasks, edges, triggers, params, secrets,
    metadata, payload and signatures.

    OLD and NEW are packages of either format or project directories (discovered
    statically, nothing built); only the packages' heads are read unless --payload.
    Exit 0 when nothing differs, 1 when something does, 2 on errors, as diff(1); build
    facts (tool version, source revision, ...) are shown but never count."""
    from ..ops.diff import diff_paths
    from .progress import command_progress

    with command_progress() as progress:
        result = diff_paths(old, new, payload=payload, progress=progress)
    if as_json:
        emit_json(result.to_dict())
    elif verbosity() == QUIET:
        click.echo(printable(result.summary()))
    else:
        from .diff_render import diff_text

        click.echo(diff_text(result))
    if result.differs and not exit_zero:
        sys.exit(EXIT_FAILED)
