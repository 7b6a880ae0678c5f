"""``cloacinactl pull oci://HOST/REPO:TAG|@DIGEST``: a package and its signature and
provenance from an OCI registry, verified before it is written when --trust is given."""

from __future__ import annotations

import click

from .oci_options import registry_credentials, registry_options
from .options import CloacinaCommand, emit_json, handle_errors, json_option
from .terminal import paint, printable


@click.command(cls=CloacinaCommand)
@click.argument("reference", metavar="oci://HOST/REPO:TAG|@sha256:DIGEST")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default=".",
              show_default=True, help="The directory to write the package into.")
@click.option("--trust", "trust_path", type=click.Path(),
              help="Verify against these keys (a directory of .pub files, one .pub file or "
                   "a trust file) before writing anything.")
@registry_options
@json_option
@handle_errors
def pull(reference: str, out_dir: str, trust_path: str | None, plain_http: bool,
         username: str | None, password_stdin: bool, as_json: bool) -> None:
    """Pull a package from an OCI registry into a directory.

    Every blob is checked against its digest while it streams; FILE.sig and
    FILE.intoto.jsonl referrers are written beside the package.  With --trust the package
    must verify (its pulled FILE.sig counts as its detached signature) or nothing is
    written.  Each file is written to a temporary name and renamed into place."""
    from ..oci.pull import pull_package
    from .progress import command_progress
    from .render import human_size, shown_path

    auth = registry_credentials(username, password_stdin)
    with command_progress() as progress:
        result = pull_package(reference, out_dir, trust=trust_path, auth=auth,
                              plain_http=plain_http, progress=progress)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(printable(f"pulled {result.reference}") + "\n" + printable(
        f"  wrote {shown_path(result.path)} ({result.name} {result.version}, "
        f"{human_size(result.size)}, {result.format} format)"))
    for extra in (result.signature, result.provenance):
        if extra:
            click.echo(printable(f"  wrote {shown_path(extra)}"))
    for gone in result.removed:
        click.echo(printable(f"  removed {shown_path(gone)} (stale: not in the registry)"))
    if result.verified:
        click.echo(paint(printable(f"verified: {result.name} {result.version}, signed by "
                                   f"{', '.join(result.signed_by)}")))
