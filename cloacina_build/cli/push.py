"""``cloacinactl push FILE oci://HOST/REPO[:TAG]``: a package (and the FILE.sig and
FILE.intoto.jsonl beside it) into an OCI registry."""

from __future__ import annotations

import click

from .oci_options import registry_credentials, registry_options
from .options import CloacinaCommand, emit_json, handle_errors, json_option
from .terminal import printable


@click.command(cls=CloacinaCommand)
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("reference", metavar="oci://HOST/REPO[:TAG]")
@registry_options
@click.option("--source", metavar="URL",
              help="The source repository's URL, for the org.opencontainers.image.source "
                   "annotation.")
@json_option
@handle_errors
def push(file: str, reference: str, plain_http: bool, username: str | None,
         password_stdin: bool, source: str | None, as_json: bool) -> None:
    """Push package FILE to an OCI registry; print the manifest digest.

    The tag defaults to the package version ('+' written as '_').  FILE.sig and
    FILE.intoto.jsonl beside FILE are pushed as referrers of the package.  Credentials:
    --username with --password-stdin, else docker's (config.json, credential helpers)."""
    from ..oci.artifact import PROVENANCE_TYPE, SIGNATURE_TYPE
    from ..oci.push import push_package
    from .progress import command_progress
    from .render import human_size, shown_path

    auth = registry_credentials(username, password_stdin)
    with command_progress() as progress:
        result = push_package(file, reference, auth=auth, plain_http=plain_http,
                              source=source, progress=progress)
    if as_json:
        emit_json(result.to_dict())
        return
    fmt = "engine" if "engine" in result.media_type else "cloacina"
    click.echo(printable(f"pushed {shown_path(result.file)} to {result.reference}") +
               f"\n  {human_size(result.size)}, {fmt} format, {result.uploaded} new blob(s)"
               f"\n  digest {result.digest}")
    kinds = {SIGNATURE_TYPE: "signature", PROVENANCE_TYPE: "provenance"}
    for ref in result.referrers:
        kind = kinds.get(ref.artifact_type, ref.artifact_type)
        click.echo(printable(f"  referrer {shown_path(ref.file)}: {kind} {ref.digest}"))
