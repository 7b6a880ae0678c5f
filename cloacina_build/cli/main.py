"""``cloacinactl``: a thin click layer. Each command parses, makes one library call, renders.

Exit codes: 0 ok, 1 the package or project failed a check, 2 usage or environment error.
"""

from __future__ import annotations

import gc
import signal
import sys

import click

from ..__about__ import __version__
from ..errors import EXIT_FAILED
from .attest import attest
from .context import read_context
from .diff import diff
from .graph import graph
from .keys import key
from .ls import ls
from .options import (
    QUIET,
    CloacinaGroup,
    emit_json,
    finish,
    handle_errors,
    interrupted,
    json_option,
    on_sigterm,
    passphrase_options,
    signing_key,
    trust_options,
    verbosity,
)
from .pull import pull
from .push import push
from .references import accepts_reference
from .sign import sign
from .terminal import echo_text, paint, printable, show_as
from .validate_output import output_options


@click.group("cloacinactl", cls=CloacinaGroup,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cloacinactl")
def cli() -> None:
    """Build, sign, inspect, validate, verify and run .cloacina workflow packages."""
    show_as({})  # names registered by an earlier command in this process are not ours


@cli.command()
@click.argument("name", required=False)
@click.option("-t", "--template", default="python", show_default=True,
              help="A built-in template (see --list) or a template directory.")
@click.option("--path", "target", type=click.Path(file_okay=False),
              help="Where to create the project (default: ./NAME).")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
              help="Set a template variable; repeat for several.")
@click.option("--list", "list_only", is_flag=True, help="List the templates and exit.")
@json_option
@handle_errors
def new(name: str | None, template: str, target: str | None, variables: tuple[str, ...],
        list_only: bool, as_json: bool) -> None:
    """Create a workflow project NAME from a template."""
    from ..errors import UsageError
    from ..project.scaffold import create_project, list_templates, load_template

    if list_only:
        templates = list_templates()
        if as_json:
            emit_json({"ok": True, "templates": [t.to_dict() for t in templates]})
            return
        for t in templates:
            click.echo(printable(f"{t.name:10} {t.description}"))
            for v in t.variables:
                click.echo(f"{'':12}--var {v.name}=...  {v.description} "
                           f"(default: {v.default})")
        return
    if not name:
        raise UsageError("new needs a project NAME", hint="cloacinactl new my-workflow")
    values = {}
    for item in variables:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--var {item!r} must look like KEY=VALUE")
        values[key] = value
    tpl = load_template(template)
    path = create_project(name, template=tpl, path=target, variables=values)
    if as_json:
        emit_json({"ok": True, "path": str(path), "template": template, "name": name})
    else:
        _created(path, tpl, template, values)


def _python_tests() -> str:
    """How to run a new project's tests with this Python (pytest installed first if this
    environment lacks it: a pytest found elsewhere on PATH cannot import this tool)."""
    from importlib.util import find_spec

    return "python -m pytest" if find_spec("pytest") else \
        "pip install pytest && python -m pytest"


def _created(path, tpl, template: str, values: dict[str, str]) -> None:
    from ..project.scaffold import REQUIREMENT
    from .render import shown_path

    test = "cargo test --offline" if tpl.language == "rust" else _python_tests()
    click.echo(f"created {shown_path(path)} from template '{template}'")
    if verbosity() == QUIET:  # the result only, not the advice
        return
    click.echo(f"next: cd {shown_path(path)} && {test} && cloacinactl package .")
    requirement = values.get(REQUIREMENT, tpl.default_of(REQUIREMENT))
    if requirement:
        click.echo(printable(f"CI installs cloacinactl with: {requirement} (to change "
                             "it: README.md, 'Install cloacinactl')"))


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(),
              help="Output file (.cloacina) or directory. Default: dist/NAME-VERSION.cloacina")
@click.option("--isolated", is_flag=True,
              help="Build the wheel in a fresh isolated environment (needs an index).")
@click.option("--native-lib", type=click.Path(dir_okay=False),
              help="Rust crates: package this prebuilt shared library instead of running "
                   "cargo.")
@click.option("--sign", "sign_key", metavar="KEY",
              help="Sign the package with KEY (a file, env:VAR or -) once it is built.")
@click.option("--comment", default="", help="With --sign: a comment, signed with the rest.")
@click.option("--format", "package_format", type=click.Choice(["cloacina", "engine"]),
              help="cloacina: this tool's package (zstd, a wheel payload); engine: the bzip2 "
                   "source archive the Cloacina engine's server and daemon load. Default: "
                   "the project's cloacina-build.toml, else cloacina.")
@click.option("--force", is_flag=True,
              help="Replace a signed package already at the output path.")
@click.option("--provenance", is_flag=True,
              help="With --sign: also write FILE.intoto.jsonl, signed SLSA build provenance.")
@passphrase_options
@json_option
@handle_errors
def package(path: str, output: str | None, isolated: bool, native_lib: str | None,
            sign_key: str | None, comment: str, package_format: str | None, force: bool,
            provenance: bool, passphrase_file: str | None, passphrase_env: str | None,
            as_json: bool) -> None:
    """Build the workflow project at PATH into one .cloacina package."""
    from ..build.builder import build_package
    from .progress import command_progress
    from .render import package_text

    key = signing_key(sign_key, passphrase_file, passphrase_env) if sign_key else None
    with command_progress() as progress:
        result = build_package(path, output, isolated=isolated, native_lib=native_lib,
                               sign_key=key, comment=comment, format=package_format,
                               force=force, provenance=provenance, progress=progress)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(package_text(result))
        if result.replaced is not None:
            click.echo(f"  replaced {printable(result.replaced)}")
        if result.signed is not None:
            click.echo(f"  signed by {printable(result.signed.signer)} "
                       f"(key {result.signed.key_id[:16]})")
        if result.attestation is not None:
            from .provenance_text import attestation_text
            from .render import shown_path

            click.echo(attestation_text(result.attestation,
                                        shown_path(result.attestation.path), indent="  "))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--trust", "trust_path", type=click.Path(),
              help="Say which signatures are by trusted keys (a directory or trust file).")
@json_option
@handle_errors
@accepts_reference("file")
def inspect(file: str, trust_path: str | None, as_json: bool) -> None:
    """Show what the package FILE holds (reads only its head).

    An engine archive (bzip2 source) is read in one bounded pass and its workflow is
    discovered from the source."""
    from ..ops.inspect import inspect as inspect_
    from ..trust.store import load_trust
    from .progress import command_progress
    from .render import inspect_text

    with command_progress() as progress:
        info = inspect_(file, trust=load_trust(trust_path) if trust_path else None,
                        progress=progress)
    if as_json:
        emit_json(info.to_dict())
    else:
        click.echo(inspect_text(info))


@cli.command()
@click.argument("path", type=click.Path())
@trust_options
@click.option("--require-signature", is_flag=True,
              help="Fail unless enough trusted signers verify (needs --trust).")
@output_options
@json_option
@handle_errors
@accepts_reference("path")
def validate(path: str, trust_path: str | None, threshold: int, detached: str | None,
             require_signature: bool, fmt: str, output: str | None, as_json: bool) -> None:
    """Check a .cloacina package or a project directory; exit 1 when invalid.

    A package is ours (zstd) or an engine archive (bzip2 source): each gets its rules."""
    from ..ops.validate import ValidationPolicy
    from ..trust.policy import policy_from_options
    from .progress import command_progress
    from .validate_output import emit_validation, validated

    policy = ValidationPolicy(trust=policy_from_options(trust_path, threshold=threshold,
                                                        detached=detached,
                                                        require=require_signature))
    with command_progress() as progress:
        report = validated(path, policy, fmt, progress, output)
    emit_validation(report, fmt, output, path)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@trust_options
@click.option("--state", type=click.Path(dir_okay=False),
              help="Anti-rollback state file: refuse versions lower than the highest seen.")
@click.option("--allow-rollback", is_flag=True, help="Accept a lower version this once.")
@click.option("--provenance", is_flag=True,
              help="Also require FILE.intoto.jsonl, build provenance by a trusted key.")
@json_option
@handle_errors
@accepts_reference("file")
def verify(file: str, trust_path: str | None, threshold: int, detached: str | None,
           state: str | None, allow_rollback: bool, provenance: bool, as_json: bool) -> None:
    """Verify FILE: every digest, and trusted signatures; exit 1 when not verified."""
    from ..errors import UsageError
    from ..ops.validate import verify_package
    from ..trust.policy import policy_from_options
    from .progress import command_progress
    from .render import verify_text

    if not trust_path:
        raise UsageError("verify needs --trust: a directory of .pub files, one .pub file or "
                         "a trust file")
    policy = policy_from_options(trust_path, threshold=threshold, detached=detached,
                                 require=True, state=state, allow_rollback=allow_rollback,
                                 sidecar_of=file, provenance=provenance)
    with command_progress() as progress:
        report = verify_package(file, policy, progress=progress)
    finish(report, verify_text, as_json)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--context", "context_arg", metavar="JSON|@FILE",
              help="The run's input context: a JSON object, or @path to a JSON file.")
@trust_options
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="Where verified packages are unpacked (default: CLOACINA_CACHE_DIR or "
                   "~/.cache/cloacina/packages).")
@json_option
@handle_errors
@accepts_reference("file")
def run(file: str, context_arg: str | None, trust_path: str | None, threshold: int,
        detached: str | None, cache_dir: str | None, as_json: bool) -> None:
    """Run the workflow in package FILE locally, the way the engine would."""
    from ..runtime.loader import load_package
    from ..testing import run_loaded
    from ..trust.policy import policy_from_options
    from .progress import command_progress
    from .render import run_event_line, run_text, tries

    context = read_context(context_arg)
    policy = policy_from_options(trust_path, threshold=threshold, detached=detached,
                                 sidecar_of=file) if trust_path else None
    with command_progress() as progress:
        loaded = load_package(file, trust=policy, cache_dir=cache_dir, progress=progress)
    say = (lambda line: None) if as_json or verbosity() == QUIET else \
        (lambda line: click.echo(paint(printable(line), err=True), err=True))
    if policy is None:
        say("warning: no --trust given: running a package whose signatures were not "
            "verified (fine for local testing)")
    for warning in loaded.warnings:
        say(f"warning: {warning.message}")
    for trig in loaded.workflow.triggers:
        say(f"trigger {trig.name} ({trig.kind} {trig.schedule}) is listed, not fired")
    with loaded:
        result = run_loaded(loaded, context, on_event=lambda e: say(run_event_line(e)))
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(run_text(result))
    if result.status != "completed":
        if not as_json:
            for task_id in result.failed:
                outcome = result.tasks[task_id]
                click.echo(paint(printable(f"error: task '{task_id}' failed after "
                                           f"{tries(outcome.attempts)}: {outcome.error}"),
                                 err=True), err=True)
                echo_text((outcome.traceback or "").rstrip(), err=True)
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--to", "to", type=click.Choice(["engine", "cloacina"]), required=True,
              help="engine: the bzip2 source archive the Cloacina engine loads; cloacina: "
                   "this tool's zstd package (a wheel payload).")
@click.option("-o", "--output", type=click.Path(),
              help="Output file (.cloacina) or directory. Default: NAME-VERSION.cloacina "
                   "beside FILE (never FILE itself).")
@click.option("--force", is_flag=True,
              help="Replace a signed package already at the output path.")
@json_option
@handle_errors
def convert(file: str, to: str, output: str | None, force: bool, as_json: bool) -> None:
    """Convert the package FILE to the other format, where nothing is lost.

    The workflow (tasks and fingerprints) is rediscovered from the converted source and
    must be identical; native payloads, compiled wheels and engine archives without a
    Python workflow are refused."""
    from ..build.convert import convert_package
    from .progress import command_progress
    from .render import shown_path

    with command_progress() as progress:
        result = convert_package(file, to, output, force=force, progress=progress)
    if as_json:
        emit_json(result.to_dict())
        return
    wf = result.manifest.workflow
    click.echo(printable(f"converted {shown_path(result.source)} -> {shown_path(result.path)} "
                         f"({to})") + "\n"
               f"  workflow {printable(wf.name)} with {len(wf.tasks)} task(s), fingerprint "
               f"{wf.fingerprint[:16]} (unchanged)")
    if result.replaced is not None:
        click.echo(f"  replaced {printable(result.replaced)}")
    if result.signatures_dropped:
        click.echo(f"  {result.signatures_dropped} signature(s) of the input not carried over "
                   "(a signature covers the bytes it signed): sign the result")


cli.add_command(key)
cli.add_command(sign)
cli.add_command(attest)
cli.add_command(diff)
cli.add_command(ls)
cli.add_command(graph)
cli.add_command(push)
cli.add_command(pull)


def main() -> None:
    # One short-lived command: the cyclic collector's first generation waits for 200,000
    # allocations instead of 700, as mypy's command does.  Reading a 10,000-task package
    # allocates a few hundred thousand objects that all stay alive to the end, and the
    # collector would otherwise rescan them over and over (the library pauses it around its
    # own large reads too, see gcpause).  Memory is still freed by reference counting.
    gc.set_threshold(200_000, 30, 30)
    signal.signal(signal.SIGTERM, on_sigterm)  # cleaned up like Ctrl-C, then exit 143
    try:
        cli(prog_name="cloacinactl")
    except KeyboardInterrupt as exc:  # outside any command (while click parses arguments)
        interrupted(exc)
