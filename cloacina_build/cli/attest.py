"""``cloacinactl attest``: signed build provenance for a package already built."""

from __future__ import annotations

import click

from .options import (
    CloacinaCommand,
    emit_json,
    handle_errors,
    json_option,
    passphrase_options,
    signing_key,
)
from .provenance_text import attestation_text


@click.command(cls=CloacinaCommand)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--key", "key_spec", required=True, metavar="KEY",
              help="The private key: a file, env:VAR (PEM text) or - (standard input).")
@click.option("--force", is_flag=True, help="Replace an existing FILE.intoto.jsonl.")
@passphrase_options
@json_option
@handle_errors
def attest(file: str, key_spec: str, force: bool, passphrase_file: str | None,
           passphrase_env: str | None, as_json: bool) -> None:
    """Write FILE.intoto.jsonl: signed SLSA build provenance of the package FILE.

    The facts come from the package's own build manifest (the predicate says it was
    attested after the build). Sign the package first and attest last: an embedded
    signature changes the file's bytes."""
    from ..ops.attest import attest_package

    key = signing_key(key_spec, passphrase_file, passphrase_env)
    result = attest_package(file, key, force=force)
    if as_json:
        emit_json(result.to_dict())
    else:
        from .render import shown_path

        click.echo(attestation_text(result, shown_path(result.path)))
