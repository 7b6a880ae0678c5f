"""``cloacinactl key``: create and identify Ed25519 signing keys."""

from __future__ import annotations

import click

from .options import (
    CloacinaSubgroup,
    emit_json,
    handle_errors,
    json_option,
    passphrase_options,
    passphrase_prompt,
)


@click.group(cls=CloacinaSubgroup)
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
    from ..trust.keys import generate_pair, read_passphrase
    from .render import key_text

    passphrase = None
    if encrypt:
        passphrase = read_passphrase(passphrase_file, passphrase_env)
        if passphrase is None:
            prompt = passphrase_prompt(confirm=True)
            if prompt is None:
                raise UsageError("--encrypt needs a passphrase", hint="use --passphrase-file "
                                 "or CLOACINA_KEY_PASSPHRASE when not at a terminal")
            passphrase = prompt()
        if not passphrase:
            raise UsageError("the passphrase is empty")
    made = generate_pair(name, out_dir, passphrase=passphrase)
    if as_json:
        emit_json(made.to_dict())
    else:
        click.echo(key_text(made.key_id, name, (made.private_key, made.public_key)))


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
                             prompt=None if file == "-" else passphrase_prompt())
    if as_json:
        emit_json({"ok": True, **public.to_dict()})
    else:
        click.echo(key_text(public.id, public.name))
