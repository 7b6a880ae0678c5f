"""``validate``'s outputs: ``--format text|json|sarif`` (``--json`` is ``--format json``) and
``-o/--output FILE``, written atomically, with the findings and the summary (which names
FILE) left on the terminal."""

from __future__ import annotations

import functools
import sys
from typing import Any

import click

from ..errors import EXIT_FAILED
from .options import QUIET, emit_json, finish, verbosity
from .terminal import paint, printable

FORMATS = ("text", "json", "sarif")


def output_options(func):
    """``--format`` and ``-o/--output``; put above ``@json_option``.  The command gets
    ``fmt`` (one of :data:`FORMATS`) and ``output``, and ``as_json`` is true exactly when
    the format is JSON, so errors come as JSON objects for ``--format json`` as they do
    for ``--json``.  ``--json`` with another ``--format`` is a usage error (exit 2)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        fmt, as_json = kwargs.get("fmt"), kwargs.get("as_json", False)
        if as_json and fmt not in (None, "json"):
            raise click.UsageError(f"--json and --format {fmt} disagree: --json is "
                                   "--format json; give one of them",
                                   ctx=click.get_current_context(silent=True))
        kwargs["fmt"] = "json" if as_json else fmt or "text"
        kwargs["as_json"] = kwargs["fmt"] == "json"
        return func(*args, **kwargs)

    wrapper = click.option(
        "-o", "--output", type=click.Path(dir_okay=False),
        help="Write the report (in the chosen format) to FILE, atomically; the terminal "
             "still shows the findings and the summary.")(wrapper)
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS),
        help="text (default), json (the same as --json) or sarif (SARIF 2.1.0 for code "
             "scanning, e.g. GitHub's upload-sarif).")(wrapper)


def validated(path: str, policy, fmt: str, progress, output: str | None = None):
    """The report of ``validate_path``; for SARIF, of ``ops.sarif.validate_for_sarif``
    (a project or package too broken to validate becomes a report of that one error),
    whose error is printed as usual too (with ``output``, as the report's one finding
    above the summary)."""
    from ..ops.validate import validate_path

    if fmt != "sarif":
        return validate_path(path, policy, progress=progress)
    from ..ops.sarif import validate_for_sarif

    report, failure = validate_for_sarif(path, policy, progress=progress)
    if failure is not None and output is None:
        click.echo(paint(f"error: {failure.diagnostics(printable)}", err=True,
                         findings=True), err=True)
    return report


def emit_validation(report, fmt: str, output: str | None, source: str) -> None:
    """Print (or with ``output`` write) ``report`` in ``fmt``; exit 1 when it failed."""
    from ..fsutil import write_output
    from .render import shown_path, validate_text

    if output is None and fmt != "sarif":
        return finish(report, validate_text, fmt == "json")
    if output is None:
        emit_json(_document(report, fmt))
    else:  # the terminal (a CI log) still says what is wrong, then what was written
        write_output(output, _file_text(report, fmt).encode("utf-8"), source=source)
        quiet = verbosity() == QUIET  # -q: errors only (warnings still counted)
        click.echo(paint(validate_text(report, quiet=quiet)
                         + printable(f"; wrote {shown_path(output)}")))
    if not report.ok:
        sys.exit(EXIT_FAILED)


def _document(report, fmt: str) -> dict[str, Any]:
    if fmt == "sarif":
        from ..ops.sarif import sarif_report

        return sarif_report(report)
    return report.to_dict()


def _file_text(report, fmt: str) -> str:
    from ..safe_text import json_text

    if fmt == "text":
        from .render import validate_text

        return validate_text(report) + "\n"
    return json_text(_document(report, fmt), indent=True) + "\n"
