"""``cloacinactl``: a thin click layer. Each command parses, makes one library call, renders.

Exit codes: 0 ok, 1 the package or project failed a check, 2 usage or environment error.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from .__about__ import __version__
from .errors import EXIT_FAILED, EXIT_USAGE, CloacinaError


def _emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def handle_errors(func):
    """Map library errors to one clear message and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        as_json = kwargs.get("as_json", False)
        try:
            return func(*args, **kwargs)
        except CloacinaError as exc:
            if as_json:
                _emit_json({"ok": False, "error": exc.to_dict()})
            else:
                click.echo(f"error: {exc.diagnostics()}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            message = f"{exc.strerror or exc}{where}"
            if as_json:
                _emit_json({"ok": False, "error": {"code": "os-error", "message": message}})
            else:
                click.echo(f"error: {message}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON object for machines.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cloacinactl")
def cli() -> None:
    """Build, inspect and validate .cloacina workflow packages."""


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(),
              help="Output file (.cloacina) or directory. Default: dist/NAME-VERSION.cloacina")
@click.option("--isolated", is_flag=True,
              help="Build the wheel in a fresh isolated environment (needs an index).")
@json_option
@handle_errors
def package(path: str, output: str | None, isolated: bool, as_json: bool) -> None:
    """Build the workflow project at PATH into one .cloacina package."""
    from .builder import build_package
    from .render import package_text

    result = build_package(path, output, isolated=isolated)
    if as_json:
        m = result.manifest
        _emit_json({"ok": True, "path": str(result.path), "size": result.size,
                    "digest": result.digest, "package": m["package"],
                    "workflow": {"name": m["workflow"]["name"],
                                 "fingerprint": m["workflow"]["fingerprint"],
                                 "tasks": [t["id"] for t in m["workflow"]["tasks"]]},
                    "payload": m["payload"]})
    else:
        click.echo(package_text(result))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
@handle_errors
def inspect(file: str, as_json: bool) -> None:
    """Show what the package FILE holds (reads only its head)."""
    from .inspect import inspect_package
    from .render import inspect_text

    info = inspect_package(file)
    if as_json:
        _emit_json(info)
    else:
        click.echo(inspect_text(info))


@cli.command()
@click.argument("path", type=click.Path())
@json_option
@handle_errors
def validate(path: str, as_json: bool) -> None:
    """Check a .cloacina package or a project directory; exit 1 when invalid."""
    from .render import validate_text
    from .validate import validate_path

    report = validate_path(path)
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(validate_text(report))
    if not report.ok:
        sys.exit(EXIT_FAILED)


def main() -> None:
    try:
        cli(prog_name="cloacinactl")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
