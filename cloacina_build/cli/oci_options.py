"""Options every command that talks to a registry shares: ``--plain-http``,
``--username`` and ``--password-stdin``."""

from __future__ import annotations

import sys

import click

from ..errors import UsageError


def registry_options(func):
    func = click.option("--password-stdin", is_flag=True,
                        help="Read the registry password (or token) from standard input.")(
        func)
    func = click.option("--username", metavar="USER",
                        help="The registry user (with --password-stdin); default: docker's "
                             "credentials for the host.")(func)
    return click.option("--plain-http", is_flag=True,
                        help="Talk HTTP, not HTTPS (a local registry without TLS).")(func)


def registry_credentials(username: str | None, password_stdin: bool):
    """Credentials from ``--username`` and ``--password-stdin``, or None (docker's)."""
    from ..oci.auth import Credentials

    if username is None and not password_stdin:
        return None
    if username is None or not password_stdin:
        raise UsageError("--username and --password-stdin go together",
                         hint="pipe the password: echo \"$TOKEN\" | cloacinactl COMMAND ... "
                              "--username USER --password-stdin")
    password = sys.stdin.readline(1 << 16).rstrip("\r\n")
    if not password:
        raise UsageError("--password-stdin read no password from standard input",
                         hint="pipe the password or token into the command")
    return Credentials(username, password)


def refuse_registry_options(plain_http: bool, username: str | None, password_stdin: bool,
                            hint: str | None = None) -> None:
    """A ``UsageError`` when a registry option is given for what is not a reference."""
    if plain_http or username is not None or password_stdin:
        raise UsageError("--plain-http, --username and --password-stdin apply only to an "
                         "oci:// reference", hint=hint)
