"""``cloacinactl``: a thin click layer. Each command parses, makes one library call, renders.

Exit codes: 0 ok, 1 the package or project failed a check, 2 usage or environment error.
"""

from __future__ import annotations

import functools
import json
import os
import sys

import click

from ..__about__ import __version__
from ..errors import EXIT_FAILED, EXIT_USAGE, CloacinaError


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
        except BrokenPipeError:  # the reader went away (| head): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_FAILED)
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
                        help="A directory of .pub files or a TOML trust file.")(func)


def _sidecar(file: str, detached: str | None) -> str | None:
    """``FILE.sig`` beside the package counts, for verify and run alike."""
    from pathlib import Path

    if detached is None and Path(file + ".sig").is_file():
        return file + ".sig"
    return detached


def _finish(report, render, as_json: bool, **extra) -> None:
    """Print a validation report for people or machines; exit 1 when it failed."""
    if as_json:
        _emit_json({**report.to_dict(), **extra})
    else:
        click.echo(render(report))
    if not report.ok:
        sys.exit(EXIT_FAILED)


def _prompt(confirm: bool = False):
    """A passphrase prompt, only when a person is at a terminal."""
    if not sys.stdin.isatty():
        return None
    return lambda: click.prompt("Passphrase", hide_input=True,
                                confirmation_prompt=confirm).encode("utf-8")


def _signing_key(spec: str, passphrase_file, passphrase_env):
    from ..trust.keys import load_signing_key, read_passphrase

    return load_signing_key(spec, passphrase=read_passphrase(passphrase_file, passphrase_env),
                            prompt=None if spec == "-" else _prompt())


def _trust_policy(trust_path, threshold, detached, *, require=False, state=None,
                  allow_rollback=False):
    from pathlib import Path

    from ..trust.store import load_trust
    from ..trust.policy import TrustPolicy

    trust = load_trust(trust_path) if trust_path else None
    if detached and not Path(detached).is_file():
        from ..errors import UsageError

        raise UsageError(f"no detached signature at {detached}")
    return TrustPolicy(trust=trust, require_signature=require, threshold=threshold,
                       detached=Path(detached) if detached else None,
                       state_file=Path(state) if state else None,
                       allow_rollback=allow_rollback)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cloacinactl")
def cli() -> None:
    """Build, sign, inspect, validate, verify and run .cloacina workflow packages."""


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
    from ..project.scaffold import create_project, list_templates

    if list_only:
        templates = list_templates()
        if as_json:
            _emit_json([{"name": t.name, "description": t.description,
                         "language": t.language,
                         "variables": [{"name": v.name, "description": v.description,
                                        "default": v.default} for v in t.variables]}
                        for t in templates])
            return
        for t in templates:
            click.echo(f"{t.name:10} {t.description}")
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
    path = create_project(name, template=template, path=target, variables=values)
    if as_json:
        _emit_json({"ok": True, "path": str(path), "template": template, "name": name})
    else:
        from .render import shown_path
        from ..project.scaffold import load_template

        test = "cargo test --offline" if load_template(template).language == "rust" \
            else "pytest"
        click.echo(f"created {shown_path(path)} from template '{template}'\n"
                   f"next: cd {shown_path(path)} && {test} && cloacinactl package .")


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
@passphrase_options
@json_option
@handle_errors
def package(path: str, output: str | None, isolated: bool, native_lib: str | None,
            sign_key: str | None, comment: str, passphrase_file: str | None,
            passphrase_env: str | None, as_json: bool) -> None:
    """Build the workflow project at PATH into one .cloacina package."""
    from ..build.builder import build_package
    from .render import package_text

    key = _signing_key(sign_key, passphrase_file, passphrase_env) if sign_key else None
    result = build_package(path, output, isolated=isolated, native_lib=native_lib)
    signed = None
    if key is not None:
        from ..ops.signing import sign_package

        signed = sign_package(result.path, key, comment=comment)
    if as_json:
        m = result.manifest
        _emit_json({"ok": True, "path": str(result.path), "size": result.path.stat().st_size,
                    "digest": result.digest, "package": m.package.to_dict(),
                    "workflow": {"name": m.workflow.name,
                                 "fingerprint": m.workflow.fingerprint,
                                 "tasks": [t.id for t in m.workflow.tasks]},
                    "payload": m.payload.to_dict(),
                    "signed_by": None if signed is None else
                    {"key_id": signed.key_id, "signer": signed.signer}})
    else:
        click.echo(package_text(result))
        if signed is not None:
            click.echo(f"  signed by {signed.signer} (key {signed.key_id[:16]})")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--trust", "trust_path", type=click.Path(),
              help="Say which signatures are by trusted keys (a directory or trust file).")
@json_option
@handle_errors
def inspect(file: str, trust_path: str | None, as_json: bool) -> None:
    """Show what the package FILE holds (reads only its head)."""
    from ..ops.inspect import inspect_package
    from .render import inspect_text
    from ..trust.store import load_trust

    info = inspect_package(file, trust=load_trust(trust_path) if trust_path else None)
    if as_json:
        _emit_json(info)
    else:
        click.echo(inspect_text(info))


@cli.command()
@click.argument("path", type=click.Path())
@trust_options
@click.option("--require-signature", is_flag=True,
              help="Fail unless enough trusted signers verify (needs --trust).")
@json_option
@handle_errors
def validate(path: str, trust_path: str | None, threshold: int, detached: str | None,
             require_signature: bool, as_json: bool) -> None:
    """Check a .cloacina package or a project directory; exit 1 when invalid."""
    from .render import validate_text
    from ..ops.validate import ValidationPolicy, validate_path

    policy = ValidationPolicy(trust=_trust_policy(trust_path, threshold, detached,
                                                  require=require_signature))
    _finish(validate_path(path, policy), validate_text, as_json)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@trust_options
@click.option("--state", type=click.Path(dir_okay=False),
              help="Anti-rollback state file: refuse versions lower than the highest seen.")
@click.option("--allow-rollback", is_flag=True, help="Accept a lower version this once.")
@json_option
@handle_errors
def verify(file: str, trust_path: str | None, threshold: int, detached: str | None,
           state: str | None, allow_rollback: bool, as_json: bool) -> None:
    """Verify FILE: every digest, and trusted signatures; exit 1 when not verified."""
    from ..errors import UsageError
    from .render import verify_text
    from ..ops.validate import verify_package

    if not trust_path:
        raise UsageError("verify needs --trust: a directory of .pub files or a trust file")
    detached = _sidecar(file, detached)
    report = verify_package(file, _trust_policy(trust_path, threshold, detached, require=True,
                                                state=state, allow_rollback=allow_rollback))
    _finish(report, verify_text, as_json, verified=report.ok)


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
def run(file: str, context_arg: str | None, trust_path: str | None, threshold: int,
        detached: str | None, cache_dir: str | None, as_json: bool) -> None:
    """Run the workflow in package FILE locally, the way the engine would."""
    from ..runtime.loader import load_package
    from .render import run_event_line, run_text
    from ..testing import run_loaded

    context = _read_context(context_arg)
    policy = _trust_policy(trust_path, threshold, _sidecar(file, detached)) \
        if trust_path else None
    loaded = load_package(file, trust=policy, cache_dir=cache_dir)
    say = (lambda line: None) if as_json else (lambda line: click.echo(line, err=True))
    if policy is None:
        say("warning: no --trust given: running a package whose signatures were not "
            "verified (fine for local testing)")
    for warning in loaded.warnings:
        say(f"warning: {warning.message}")
    for trig in loaded.workflow.get("triggers", []):
        say(f"trigger {trig['name']} ({trig['kind']} {trig['schedule']}) is listed, not fired")
    with loaded:
        result = run_loaded(loaded, context, on_event=lambda e: say(run_event_line(e)))
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(run_text(result))
    if result.status != "completed":
        if not as_json:
            for task_id in result.failed:
                outcome = result.tasks[task_id]
                click.echo(f"error: task '{task_id}' failed after {outcome.attempts} "
                           f"attempt(s): {outcome.error}", err=True)
                click.echo(outcome.traceback.rstrip(), err=True)
        sys.exit(EXIT_FAILED)


def _read_context(arg: str | None) -> dict:
    from pathlib import Path

    from ..errors import UsageError

    if not arg:
        return {}
    text = arg
    if arg.startswith("@"):
        try:
            text = Path(arg[1:]).read_text("utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the context file {arg[1:]}: {exc.strerror}") \
                from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--context is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("--context must be a JSON object")
    return value


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--key", "key_spec", required=True, metavar="KEY",
              help="The private key: a file, env:VAR (PEM text) or - (standard input).")
@click.option("--comment", default="", help="A comment, signed with the rest.")
@click.option("--signer", help="The signer name recorded (default: the key's name).")
@click.option("--detached", is_flag=True,
              help="Write FILE.sig (the engine's format) and leave the package untouched.")
@passphrase_options
@json_option
@handle_errors
def sign(file: str, key_spec: str, comment: str, signer: str | None, detached: bool,
         passphrase_file: str | None, passphrase_env: str | None, as_json: bool) -> None:
    """Sign the package FILE (embedded, or a detached .sig)."""
    from ..ops.signing import sign_detached, sign_package

    key = _signing_key(key_spec, passphrase_file, passphrase_env)
    if detached:
        if comment or signer:
            from ..errors import UsageError

            raise UsageError("--comment and --signer do not apply to --detached signatures "
                             "(the engine's format has no comment)")
        result = sign_detached(file, key)
    else:
        result = sign_package(file, key, comment=comment, signer=signer)
    if as_json:
        _emit_json({"ok": True, "path": str(result.path), "key_id": result.key_id,
                    "signer": result.signer, "signed_at": result.signed_at,
                    "detached": result.detached, "signatures": result.signatures})
    elif detached:
        click.echo(f"wrote {result.path}: signed by {result.signer} "
                   f"(key {result.key_id[:16]})")
    else:
        click.echo(f"signed {result.path} as {result.signer} (key {result.key_id[:16]}); "
                   f"{result.signatures} signature(s) in the package")


@cli.group()
def key() -> None:
    """Create and identify Ed25519 signing keys."""


@key.command("generate")
@click.argument("name")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for NAME.key and NAME.pub.")
@click.option("--encrypt", is_flag=True, help="Encrypt the private key with a passphrase.")
@passphrase_options
@json_option
@handle_errors
def key_generate(name: str, out_dir: str, encrypt: bool, passphrase_file: str | None,
                 passphrase_env: str | None, as_json: bool) -> None:
    """Write DIR/NAME.key (private, mode 0600) and DIR/NAME.pub; never overwrites."""
    from ..errors import UsageError
    from ..trust.keys import generate, read_passphrase
    from .render import key_text

    passphrase = None
    if encrypt:
        passphrase = read_passphrase(passphrase_file, passphrase_env)
        if passphrase is None:
            prompt = _prompt(confirm=True)
            if prompt is None:
                raise UsageError("--encrypt needs a passphrase", hint="use --passphrase-file "
                                 "or CLOACINA_KEY_PASSPHRASE when not at a terminal")
            passphrase = prompt()
        if not passphrase:
            raise UsageError("the passphrase is empty")
    private, public, key_id = generate(name, out_dir, passphrase=passphrase)
    if as_json:
        _emit_json({"ok": True, "name": name, "id": key_id, "private_key": str(private),
                    "public_key": str(public), "encrypted": passphrase is not None})
    else:
        click.echo(key_text(key_id, name, (private, public)))


@key.command("show")
@click.argument("file")
@passphrase_options
@json_option
@handle_errors
def key_show(file: str, passphrase_file: str | None, passphrase_env: str | None,
             as_json: bool) -> None:
    """Print the id and name of a key (a .pub or .key file, env:VAR or -)."""
    from ..trust.keys import load_any_public, read_passphrase
    from .render import key_text

    public = load_any_public(file, passphrase=read_passphrase(passphrase_file, passphrase_env),
                             prompt=None if file == "-" else _prompt())
    if as_json:
        _emit_json({"id": public.id, "name": public.name})
    else:
        click.echo(key_text(public.id, public.name))


def main() -> None:
    try:
        cli(prog_name="cloacinactl")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
