"""``oci://`` references where a command takes a package file (``inspect``, ``validate``,
``verify``, ``run``): the reference is fetched into the cache, or found there
(``oci/local.py``), before the command runs, and the command reads the cached file, with
the registry's ``FILE.sig`` and ``FILE.intoto.jsonl`` beside it where ``verify`` and
``run`` look for them.  The commands get ``--plain-http``, ``--username`` and
``--password-stdin``, which apply to references only."""

from __future__ import annotations

import functools

import click

from .oci_options import refuse_registry_options, registry_credentials, registry_options
from .options import QUIET, verbosity
from .terminal import paint, printable, show_as


def accepts_reference(argument: str):
    """The command's ``argument`` may be an ``oci://`` reference (place this decorator
    under ``handle_errors``, so a failed fetch is reported like any error).  A ``cache_dir``
    parameter of the command, when it has one, says where the cache is."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, plain_http: bool, username: str | None, password_stdin: bool,
                    **kwargs):
            from ..oci.reference import is_reference, refuse_mistyped

            value = kwargs.get(argument)
            if isinstance(value, str):
                refuse_mistyped(value)
            if isinstance(value, str) and is_reference(value):
                kwargs[argument] = local_file(value, plain_http, username, password_stdin,
                                              kwargs.get("cache_dir"), kwargs.get("as_json"))
            else:
                refuse_registry_options(plain_http, username, password_stdin,
                                        hint="give the package as oci://HOST/REPO:TAG, or "
                                             "leave these options out")
            return func(*args, **kwargs)

        return registry_options(wrapper)

    return decorate


def local_file(ref: str, plain_http: bool, username: str | None, password_stdin: bool,
               cache_dir: str | None, as_json: bool | None) -> str:
    """The cached file ``ref`` names; one line on standard error says where it came from
    (not under ``-q`` or ``--json``)."""
    from ..oci.local import fetch_reference
    from .progress import command_progress

    auth = registry_credentials(username, password_stdin)
    with command_progress() as progress:
        local = fetch_reference(ref, cache_dir=cache_dir, auth=auth, plain_http=plain_http,
                                progress=progress)
    show_as({str(local.path): local.reference} | {  # fetched or not: a message may name it
        f"{local.path}{suffix}": f"the {what} of {local.reference}"
        for suffix, what in ((".sig", "signature"), (".intoto.jsonl", "provenance"))})
    if not as_json and verbosity() != QUIET:
        how = "fetched into the cache" if local.downloaded else \
            "from the cache, its referrers fetched again" if local.refreshed else \
            "from the cache"
        extras = [n for n, p in (("signature", local.signature),
                                 ("provenance", local.provenance)) if p is not None]
        click.echo(paint(printable(f"{local.reference}: {how}" + (
            f", with its {' and '.join(extras)}" if extras else "")), err=True), err=True)
    return str(local.path)
