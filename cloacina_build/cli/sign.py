"""``cloacinactl sign FILE``: an embedded signature, or a detached ``FILE.sig``; for a
package in a registry (``sign --detached oci://…``) the ``.sig`` is pushed as a
referrer."""

from __future__ import annotations

import click

from ..errors import UsageError
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
from .terminal import printable


@click.command(cls=CloacinaCommand)
@click.argument("file", type=click.Path(dir_okay=False))
@key_option
@click.option("--comment", default="", help="A comment, signed with the rest.")
@click.option("--signer", help="The signer name recorded (default: the key's name).")
@click.option("--detached", is_flag=True,
              help="Write FILE.sig (the engine's format) and leave the package untouched; "
                   "for an oci:// reference, push it as a referrer of the package.")
@click.option("--force", is_flag=True,
              help="Replace an existing FILE.sig, or this key's signature in the package; "
                   "for an oci:// reference, push although it has a signature referrer.")
@passphrase_options
@registry_options
@json_option
@handle_errors
def sign(file: str, key_spec: str, comment: str, signer: str | None, detached: bool,
         force: bool, passphrase_file: str | None, passphrase_env: str | None,
         plain_http: bool, username: str | None, password_stdin: bool,
         as_json: bool) -> None:
    """Sign the package FILE (embedded, or a detached .sig).

    FILE may be an oci:// reference with --detached: the package is fetched (through the
    cache), signed, and its .sig pushed as a referrer (the package is not changed)."""
    from ..oci.reference import is_reference, refuse_mistyped
    from ..ops.signing import sign_detached, sign_package

    refuse_mistyped(file)
    if detached and (comment or signer):
        raise UsageError("--comment and --signer do not apply to --detached signatures "
                         "(the engine's format has no comment)")
    if is_reference(file):
        _sign_reference(file, key_spec, detached, force, (passphrase_file, passphrase_env),
                        registry_credentials(username, password_stdin), plain_http, as_json)
        return
    refuse_registry_options(plain_http, username, password_stdin)
    key = signing_key(key_spec, passphrase_file, passphrase_env)
    if detached:
        result = sign_detached(file, key, force=force)
    else:
        result = sign_package(file, key, comment=comment, signer=signer, force=force)
    if result.replaced is not None and not as_json:
        click.echo(printable(f"replaced {result.replaced}"))  # a signer read from the package
    if as_json:
        emit_json(result.to_dict())
    elif detached:
        click.echo(printable(f"wrote {result.path}: signed by {result.signer} "
                             f"(key {result.key_id[:16]})"))
    else:
        click.echo(printable(f"signed {result.path} as {result.signer} (key "
                             f"{result.key_id[:16]}); {result.signatures} signature(s) in "
                             "the package"))


def _sign_reference(ref: str, key_spec: str, detached: bool, force: bool,
                    passphrase: tuple[str | None, str | None], auth, plain_http: bool,
                    as_json: bool) -> None:
    from ..oci.endorse import sign_reference
    from .progress import command_progress

    if not detached:
        raise UsageError("a package in a registry can only be signed --detached: an "
                         "embedded signature changes its bytes, and so its digest",
                         hint="cloacinactl sign --detached oci://..., or sign the file and "
                              "push it again")
    key = signing_key(key_spec, *passphrase)
    with command_progress() as progress:
        result = sign_reference(ref, key, force=force, auth=auth, plain_http=plain_http,
                                progress=progress)
    if as_json:
        emit_json(result.to_dict())
        return
    made = result.made
    click.echo(printable(f"signed {result.reference} as {made.signer} (key "
                         f"{made.key_id[:16]})") + "\n" +
               printable(f"  pushed the signature as referrer {result.referrer.digest}"))
