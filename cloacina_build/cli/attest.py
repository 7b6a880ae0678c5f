"""``cloacinactl attest``: signed build provenance for a package already built; for a
package in a registry (``attest oci://…``) it is pushed as a referrer."""

from __future__ import annotations

import click

from .oci_options import refuse_registry_options, registry_credentials, registry_options
from .options import (
    CloacinaCommand,
    emit_json,
    handle_errors,
    json_option,
    key_option,
    passphrase_options,
    signing_key,
)
from .provenance_text import attestation_text


@click.command(cls=CloacinaCommand)
@click.argument("file", type=click.Path(dir_okay=False))
@key_option
@click.option("--force", is_flag=True, help="Replace an existing FILE.intoto.jsonl.")
@passphrase_options
@registry_options
@json_option
@handle_errors
def attest(file: str, key_spec: str, force: bool, passphrase_file: str | None,
           passphrase_env: str | None, plain_http: bool, username: str | None,
           password_stdin: bool, as_json: bool) -> None:
    """Write FILE.intoto.jsonl: signed SLSA build provenance of the package FILE.

    The facts come from the package's own build manifest (the predicate says it was
    attested after the build). Sign the package first and attest last: an embedded
    signature changes the file's bytes.  FILE may be an oci:// reference: the package is
    fetched (through the cache), attested, and FILE.intoto.jsonl pushed as a referrer."""
    from ..oci.reference import is_reference, refuse_mistyped
    from ..ops.attest import attest_package

    refuse_mistyped(file)
    if is_reference(file):
        _attest_reference(file, key_spec, force, (passphrase_file, passphrase_env),
                          registry_credentials(username, password_stdin), plain_http, as_json)
        return
    refuse_registry_options(plain_http, username, password_stdin)
    key = signing_key(key_spec, passphrase_file, passphrase_env)
    result = attest_package(file, key, force=force)
    if as_json:
        emit_json(result.to_dict())
    else:
        from .render import shown_path

        click.echo(attestation_text(result, shown_path(result.path)))


def _attest_reference(ref: str, key_spec: str, force: bool,
                      passphrase: tuple[str | None, str | None], auth, plain_http: bool,
                      as_json: bool) -> None:
    from ..oci.endorse import attest_reference
    from .progress import command_progress
    from .render import shown_path
    from .terminal import printable

    key = signing_key(key_spec, *passphrase)
    with command_progress() as progress:
        result = attest_reference(ref, key, force=force, auth=auth, plain_http=plain_http,
                                  progress=progress)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(attestation_text(result.made, shown_path(result.file)) + "\n" +
               printable(f"  pushed it as referrer {result.referrer.digest} of "
                         f"{result.reference}"))
