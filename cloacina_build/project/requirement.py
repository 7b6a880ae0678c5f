"""The pip requirement a generated project installs cloacinactl with.

Templates declare a variable ``cloacina_build_requirement`` (what the project's README and
CI ``pip install``).  Its default is :func:`installed_requirement`: the requirement that
installs *the tool that created the project*, read from how that tool was installed
(PEP 610's ``direct_url.json``):

- from a remote git repository: ``cloacina-build @ git+URL@COMMIT`` (the exact commit);
- from a remote archive or wheel: ``cloacina-build @ URL``;
- from an index, or from a local directory or file that a CI runner cannot reach (a
  checkout, an editable install): the exact pin ``cloacina-build==VERSION``, which installs
  only from an index that has that version.

:func:`check_requirement` refuses a value pip could not take or that names another project.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit, urlunsplit

from ..__about__ import __version__
from ..errors import UsageError

DIST = "cloacina-build"
VARIABLE = "cloacina_build_requirement"
_REMOTE = ("https", "http", "ssh")
_USER = re.compile(r"^[A-Za-z0-9._-]+$")


def installed_requirement() -> str:
    """The requirement that installs the running cloacinactl, as described above."""
    from importlib import metadata

    pin = f"{DIST}=={__version__}"
    try:
        dist = metadata.distribution(DIST)
        text = dist.read_text("direct_url.json")
    except (metadata.PackageNotFoundError, OSError, UnicodeDecodeError):
        return pin
    if not text or dist.version != __version__:  # an index install, or not the code running
        return pin
    try:
        info = json.loads(text)
    except ValueError:
        return pin
    return from_direct_url(info) if isinstance(info, dict) else pin


def from_direct_url(info: dict) -> str:
    """The requirement for a PEP 610 ``direct_url.json`` (parsed), or the version pin when
    it names nothing a CI runner could reach."""
    pin = f"{DIST}=={__version__}"
    url = info.get("url")
    try:
        if not isinstance(url, str) or urlsplit(url).scheme not in _REMOTE:
            return pin
        url = _without_credentials(url)
    except ValueError:  # not a URL urllib can take apart (a bad port, a broken IPv6 host)
        return pin
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict):
        kind, commit = vcs.get("vcs"), vcs.get("commit_id")
        if not (isinstance(kind, str) and isinstance(commit, str) and kind and commit):
            return pin
        ref = f"{kind}+{url}@{commit}"
    elif isinstance(info.get("archive_info"), dict):
        ref = url
    else:  # dir_info with a remote URL is not something pip records; be safe
        return pin
    subdirectory = info.get("subdirectory")
    if isinstance(subdirectory, str) and subdirectory:
        ref += f"#subdirectory={subdirectory}"
    requirement = f"{DIST} @ {ref}"
    try:
        check_requirement(requirement)
    except UsageError:
        return pin
    return requirement


def _without_credentials(url: str) -> str:
    """``url`` without a password, token or ``${VAR}`` placeholder (a generated project must
    never carry one); a plain ssh user name (``git@``) stays, it is part of the address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.scheme == "ssh" and _USER.match(parts.username or "") and not parts.password:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def check_requirement(value: str) -> None:
    """Raise UsageError unless ``value`` is a PEP 508 requirement for cloacina-build or the
    path or URL of a cloacina-build wheel (both forms ``pip install`` takes)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    hint = (f"e.g. --var {VARIABLE}='{DIST}=={__version__}', "
            f"--var {VARIABLE}='{DIST} @ git+https://github.com/OWNER/cloacina-build@TAG' or "
            f"--var {VARIABLE}=wheels/cloacina_build-{__version__}-py3-none-any.whl")
    if value.strip() != value or not value.isprintable():
        raise UsageError(f"--var {VARIABLE}={value!r} has spaces at an end or control "
                         "characters", hint=hint)
    if value.endswith(".whl"):
        filename = value.rsplit("/", 1)[-1]
        try:
            name: str = parse_wheel_filename(filename)[0]
        except InvalidWheelFilename:
            raise UsageError(f"--var {VARIABLE}: {filename!r} is not a wheel's file name",
                             hint=hint) from None
    else:
        try:
            name = Requirement(value).name
        except InvalidRequirement as exc:
            raise UsageError(f"--var {VARIABLE}={value!r} is not a pip requirement: {exc}",
                             hint=hint) from None
    if canonicalize_name(name) != DIST:
        raise UsageError(f"--var {VARIABLE}={value!r} installs {name!r}, not {DIST}",
                         hint=hint)
