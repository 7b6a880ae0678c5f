"""What every command shares: JSON output, error handling, common options, passphrases."""

from __future__ import annotations

import functools
import os
import sys
from typing import NoReturn

import click

from ..errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_TERMINATED,
    CloacinaError,
    UsageError,
)
from .terminal import paint, printable


def emit_json(data) -> None:
    """One JSON object with sorted keys, as UTF-8: indented at a terminal, on one line
    otherwise (a pipe or a file is read by a program, and the one-line form is written by
    the C encoder: ten times faster for a 10,000-task inspection).  ``CLOACINA_JSON_INDENT=1``
    indents it anywhere.  Values JSON does not know, such as paths, are written as text."""
    from ..safe_text import json_text

    indent = sys.stdout.isatty() or os.environ.get("CLOACINA_JSON_INDENT") == "1"
    text = json_text(data, indent=indent)
    click.echo(text)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C, so every cleanup on the way out runs
    (temporary directories removed, a build backend killed)."""


def on_sigterm(signum, frame) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends us at once
    raise Terminated


def interrupted(exc: BaseException | None = None) -> None:
    """Ctrl-C: one error line, a hint, exit 130; SIGTERM: exit 143.  What was being written
    is already gone: every output is written to a temporary file, and every temporary
    directory is removed on the way out."""
    word, code = ("terminated", EXIT_TERMINATED) if isinstance(exc, Terminated) \
        else ("interrupted", EXIT_INTERRUPTED)
    ctx = click.get_current_context(silent=True)
    # push asks the registry to drop the upload; distribution refuses once bytes arrived
    remote = "; the registry may keep what it received until it purges abandoned uploads" \
        if ctx is not None and ctx.info_name == "push" else ""
    hint = f"nothing was left half-written here{remote}; run the command again"
    if ctx is not None and ctx.params.get("as_json"):  # the error object, as for any error
        emit_json({"ok": False, "error": {"code": word, "message": word, "hint": hint}})
    else:
        click.echo(paint(f"error: {word}\nhint: {hint}", err=True), err=True)
    sys.exit(code)


def report_error(exc: CloacinaError, as_json: bool) -> NoReturn:
    """``error: ...`` and ``hint: ...`` on standard error, or with ``--json`` one object
    ``{"ok": false, "error": {"code", "message", "hint", ...}}`` on standard output; then
    the error's exit code.  A hint's ``cloacinactl COMMAND`` names the running command."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and exc.hint:
        exc.hint = exc.hint.replace("cloacinactl COMMAND", ctx.command_path)
    if as_json:
        emit_json({"ok": False, "error": exc.to_dict()})
    else:
        click.echo(paint(f"error: {exc.diagnostics(printable)}", err=True, findings=True),
                   err=True)
    sys.exit(exc.exit_code)


def os_error(exc: OSError) -> UsageError:
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return UsageError(f"{exc.strerror or exc}{where}", code="os-error")


def handle_errors(func):
    """Map library errors to one clear message and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        as_json = kwargs.get("as_json", False)
        try:
            return func(*args, **kwargs)
        except CloacinaError as exc:
            report_error(exc, as_json)
        except KeyboardInterrupt as exc:  # before click turns it into "Aborted!", exit 1
            interrupted(exc)
        except BrokenPipeError:  # the reader went away (| head): stop quietly, and not
            devnull = os.open(os.devnull, os.O_WRONLY)  # with 1, "a check failed"
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_PIPE)
        except OSError as exc:
            report_error(os_error(exc), as_json)

    return wrapper


QUIET, NORMAL, VERBOSE = -1, 0, 1


def _level_options() -> list[click.Option]:
    return [click.Option(["-v", "--verbose"], is_flag=True,
                         help="Say more: each phase, and every finding."),
            click.Option(["-q", "--quiet"], is_flag=True,
                         help="Print only results and errors: no progress, no warnings.")]


def _take_level(ctx: click.Context) -> None:
    """Take ``-q``/``-v`` out of ``ctx.params`` and record the level in ``ctx.meta``
    (shared by the group's context and its command's): given before the command
    (``cloacinactl -q validate``) or after it, the same; both at once is a usage error."""
    quiet, verbose = ctx.params.pop("quiet", False), ctx.params.pop("verbose", False)
    before = ctx.meta.get("cloacina.verbosity", NORMAL)
    if (quiet and (verbose or before == VERBOSE)) or (verbose and before == QUIET):
        raise click.UsageError("-q/--quiet and -v/--verbose cannot be used together",
                               ctx=ctx)
    if quiet or verbose:
        ctx.meta["cloacina.verbosity"] = QUIET if quiet else VERBOSE


class _TakesLevel(click.Command):
    """``-q/--quiet`` and ``-v/--verbose`` added to a command's (or group's) parameters,
    and taken out of the arguments (:func:`_take_level`) when it is invoked.  Put first
    among the bases: ``invoke`` then runs before that of ``click.Command`` or
    ``click.Group``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params += _level_options()

    def invoke(self, ctx: click.Context):
        _take_level(ctx)
        return super().invoke(ctx)


class CloacinaCommand(_TakesLevel, click.Command):
    """Every command: ``-q/--quiet`` and ``-v/--verbose`` are added here, so no command
    can lack them, and taken out of the arguments before the command's function is called
    (it reads the level with :func:`verbosity`)."""


class CloacinaSubgroup(click.Group):
    """A group of commands under ``cloacinactl`` (``key``): its commands get ``-q``/``-v``."""

    command_class = CloacinaCommand


def verbosity() -> int:
    """The running command's level: :data:`QUIET`, :data:`NORMAL` or :data:`VERBOSE`."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get("cloacina.verbosity", NORMAL) if ctx is not None else NORMAL


class CloacinaGroup(_TakesLevel, click.Group):
    """The command group: click's own usage errors (an unknown option or command, a
    missing argument, a bad value) come out like every other error: ``error:`` and
    ``hint:`` on standard error, or one JSON object when ``--json`` is among the
    arguments; exit 2.  Ctrl-C while click parses is ``interrupted`` (exit 130).  Its
    commands are :class:`CloacinaCommand` (``-q``/``-v``), its sub-groups the same; it
    takes ``-q``/``-v`` itself too, before the command's name."""

    command_class = CloacinaCommand
    group_class = CloacinaSubgroup

    def main(self, args=None, prog_name=None, complete_var=None,
             standalone_mode: bool = True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare 'cloacinactl': the help
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            report_error(usage_error(exc, self, argv), "--json" in argv[:_end_of_options(argv)])
        except click.Abort:
            interrupted()
        sys.exit(code if isinstance(code, int) else 0)


def _end_of_options(argv: list[str]) -> int:
    return argv.index("--") if "--" in argv else len(argv)


def usage_error(exc: click.ClickException, group: click.Group,
                argv: list[str]) -> UsageError:
    """A click error as the library's :class:`UsageError`, with a hint naming the help of
    the command that failed to parse."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        path, command = ctx.command_path, ctx.command
    else:  # some parser errors carry no context: follow the command names given
        path, command = _command_of(group, argv)
    what = "the commands" if isinstance(command, click.Group) \
        else "its arguments and options"
    message = " ".join((exc.format_message() or "bad usage").split()).rstrip(".")  # one line
    return UsageError(message[:1].lower() + message[1:],
                      hint=f"run '{path} --help' to see {what}")


def _command_of(group: click.Group, argv: list[str]) -> tuple[str, click.Command]:
    path: list[str] = ["cloacinactl"]
    command: click.Command = group
    for arg in argv:
        if arg.startswith("-"):
            continue
        sub = command.commands.get(arg) if isinstance(command, click.Group) else None
        if sub is None:
            break
        path.append(arg)
        command = sub
    return " ".join(path), command


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON object for machines.")


key_option = click.option("--key", "key_spec", required=True, metavar="KEY",
                          help="The private key: a file, env:VAR (PEM text) or - "
                               "(standard input).")


def passphrase_options(func):
    func = click.option("--passphrase-env", metavar="VAR",
                        help="Read the key passphrase from environment variable VAR "
                             "(default CLOACINA_KEY_PASSPHRASE).")(func)
    return click.option("--passphrase-file", type=click.Path(dir_okay=False),
                        help="Read the key passphrase from this file.")(func)


def trust_options(func):
    func = click.option("--signature", "detached", type=click.Path(dir_okay=False),
                        help="Also check this detached signature (FILE.sig).")(func)
    func = click.option("--threshold", type=click.IntRange(min=1), default=1,
                        show_default=True,
                        help="Distinct trusted signers required.")(func)
    return click.option("--trust", "trust_path", type=click.Path(),
                        help="A directory of .pub files, one .pub file, or a TOML trust "
                             "file.")(func)


def finish(report, render, as_json: bool) -> None:
    """Print a validation report for people or machines; exit 1 when it failed.  With
    ``-q`` the text leaves out warnings (it still counts them); ``--json`` has them all."""
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(paint(render(report, quiet=verbosity() == QUIET)))
    if not report.ok:
        sys.exit(EXIT_FAILED)


def passphrase_prompt(confirm: bool = False):
    """A passphrase prompt, only when a person is at a terminal."""
    if not sys.stdin.isatty():
        return None
    return lambda: click.prompt("Passphrase", hide_input=True,
                                confirmation_prompt=confirm).encode("utf-8")


def signing_key(spec: str, passphrase_file, passphrase_env):
    from ..trust.keys import load_signing_key, read_passphrase

    return load_signing_key(spec, passphrase=read_passphrase(passphrase_file, passphrase_env),
                            prompt=None if spec == "-" else passphrase_prompt())
