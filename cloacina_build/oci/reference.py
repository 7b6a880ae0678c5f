"""``oci://`` references: ``oci://HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]``.

:func:`parse_reference` is total: any text gives a :class:`Reference` or a
:class:`UsageError` (``oci-reference``) saying which part is wrong.  The grammar is the
distribution project's (the one docker, skopeo and every registry accept): a host name or
IPv4 address or bracketed IPv6 address with an optional port; a repository of lower-case
path components; a tag of at most 128 word characters, dots and dashes; a sha256 digest.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from ..errors import UsageError

SCHEME = "oci://"
MAX_REPOSITORY = 255
_DOMAIN_PART = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST = re.compile(rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9A-Fa-f:.]+\])"
                   r"(?::(?P<port>[0-9]{1,5}))?")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HINT = "write it as oci://HOST[:PORT]/REPOSITORY[:TAG] or oci://HOST/REPOSITORY@sha256:DIGEST"
#: docker.io is an alias: its API is served by registry-1.docker.io.
_API_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}


@dataclass(frozen=True)
class Reference:
    """A parsed reference.  ``tag`` and ``digest`` may both be None (a push then uses the
    package's version as the tag); when both are given the digest decides what is fetched."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host that serves the registry API (docker.io's is registry-1.docker.io)."""
        return _API_HOSTS.get(self.host, self.host)

    @property
    def reference(self) -> str | None:
        """What the registry API is asked for: the digest when there is one, else the tag."""
        return self.digest or self.tag

    def with_tag(self, tag: str) -> Reference:
        return replace(self, tag=check_tag(tag))

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=digest)

    def __str__(self) -> str:
        out = f"{SCHEME}{self.host}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_reference(text: str) -> bool:
    """Whether ``text`` is meant as an ``oci://`` reference (it may still be malformed)."""
    return text[:len(SCHEME)].lower() == SCHEME


def refuse_mistyped(text: str) -> None:
    """``oci:/x``, ``oci:x``, ``OCI:\\x`` where no such file exists: meant as a reference,
    mistyped; raises the reference's own error ("it must start with oci://")."""
    if text[:4].lower() == "oci:" and not is_reference(text) and not os.path.exists(text):
        parse_reference(text)


def _bad(text: str, why: str) -> UsageError:
    shown = text if len(text) <= 300 else text[:297] + "..."
    return UsageError(f"{shown!r} is not a valid OCI reference: {why}", code="oci-reference",
                      hint=_HINT)


def parse_reference(text: str) -> Reference:
    """The :class:`Reference` that ``text`` names, or ``UsageError`` (``oci-reference``)."""
    if not isinstance(text, str) or not is_reference(text):
        raise _bad(str(text), "it must start with oci://")
    rest = text[len(SCHEME):]
    host, slash, path = rest.partition("/")
    if not host:
        raise _bad(text, "it names no host")
    if not slash:
        raise _bad(text, f"it names the registry {host} but no repository after it")
    match = _HOST.fullmatch(host)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        raise _bad(text, f"{host!r} is not a host name with an optional port")
    path, at, digest = path.partition("@")
    if at and DIGEST.fullmatch(digest) is None:
        raise _bad(text, "the digest must be sha256: and 64 lower-case hex digits")
    repository, colon, tag = path.partition(":")
    if colon and TAG.fullmatch(tag) is None:
        raise _bad(text, "a tag is 1 to 128 letters, digits, '_', '.' and '-', not "
                         "starting with '.' or '-'")
    _check_repository(text, repository)
    return Reference(host, repository, tag if colon else None, digest if at else None)


def parse_fetchable(text: str) -> Reference:
    """A reference that names a tag or a digest (something that can be fetched), else
    ``UsageError`` (``oci-reference``)."""
    target = parse_reference(text)
    if target.reference is None:
        raise UsageError(f"{text} names no tag or digest", code="oci-reference",
                         hint="write oci://HOST/REPO:TAG or oci://HOST/REPO@sha256:DIGEST")
    return target


def _check_repository(text: str, repository: str) -> None:
    if not repository:
        raise _bad(text, "the repository is empty")
    if len(repository) > MAX_REPOSITORY:
        raise _bad(text, f"the repository is longer than {MAX_REPOSITORY} characters")
    for component in repository.split("/"):
        if _COMPONENT.fullmatch(component) is None:
            raise _bad(text, f"repository component {component!r} must be lower-case "
                             "letters and digits, separated by '.', '_', '__' or '-'")


def check_tag(tag: str) -> str:
    if TAG.fullmatch(tag) is None:
        raise UsageError(f"{tag!r} is not a valid tag", code="oci-reference",
                         hint="a tag is 1 to 128 letters, digits, '_', '.' and '-', not "
                              "starting with '.' or '-'")
    return tag


def default_tag(version: str) -> str:
    """The tag a package is pushed under when the reference has none: its version, with
    ``+`` (not allowed in a tag) written as ``_``."""
    return check_tag(version.replace("+", "_"))
