"""HTTP to one registry: urllib3 (pooled connections, streaming both ways, retries with
backoff on 5xx and broken connections), the 401 challenge answered once per request, and
every failure turned into one :class:`UsageError` with a hint.

Why urllib3: it streams request bodies from files and response bodies in chunks (bounded
memory both ways), rewinds a file body to resend it on a retry, retries with exponential
backoff on the statuses and connection errors we name, strips ``Authorization`` when a
blob download is redirected to another host (object storage), and verifies TLS with the
system's CA store by default.  It is the one HTTP dependency (requests and httpx are built
on it or add more than they give here).
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from typing import Any, Protocol

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, NewConnectionError, SSLError

from ..errors import UsageError
from ..strict_json import strict_json
from .auth import Challenge, Credentials, lookup, parse_challenge

CHUNK = 1 << 20
MAX_ERROR_BODY = 64 << 10
MAX_TOKEN_BODY = 1 << 20
RETRY_STATUSES = frozenset({500, 502, 503, 504})
USER_AGENT = "cloacinactl"


class Body(Protocol):
    """A request body urllib3 can stream, and rewind to send again."""

    def read(self, n: int = -1, /) -> bytes: ...

    def tell(self) -> int: ...

    def seek(self, pos: int, whence: int = 0, /) -> int: ...


class _Retry(urllib3.Retry):
    """urllib3's Retry, with a registry's ``Retry-After`` capped: a hostile or confused
    server cannot make us sleep for hours."""

    MAX_RETRY_AFTER = 10.0

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, self.MAX_RETRY_AFTER)


def default_retry(attempts: int = 5, backoff: float = 0.25) -> urllib3.Retry:
    """Up to ``attempts`` retries for any method on 500/502/503/504, reset connections and
    read timeouts, waiting backoff * 2^n seconds (at most 10) between; a connection that
    cannot be made (refused, say: nothing listens) is tried twice more, about half a
    second, so that a wrong port is an error at once."""
    return _Retry(total=attempts, connect=min(2, attempts), read=attempts, status=attempts,
                  other=0, redirect=5, backoff_factor=backoff, backoff_max=10.0,
                  status_forcelist=RETRY_STATUSES, allowed_methods=None,
                  raise_on_status=False, raise_on_redirect=True)


class RegistryError(UsageError):
    """A registry's answer or silence (exit 2: the environment cannot do the job);
    ``status`` is the HTTP status, or None when the registry could not be reached."""

    def __init__(self, message: str, *, code: str, hint: str, status: int | None = None,
                 no_connection: bool = False) -> None:
        super().__init__(message, code=code, hint=hint)
        self.status = status
        self.no_connection = no_connection  # not one connection could be made (retried)


def _hint_for(host: str, plain_http: bool) -> str:
    if plain_http:
        return f"check that a registry listens at {host} (over plain HTTP)"
    return ("check the host and port; a registry without TLS (a local one) needs "
            "--plain-http")


class Transport:
    """Requests to the registry at ``host`` (``HOST[:PORT]``), HTTPS unless
    ``plain_http``.  Credentials: ``credentials`` when given, else docker's (looked up on
    the first 401).  Safe to share between threads (push hashes and asks in a second one)."""

    def __init__(self, host: str, *, plain_http: bool = False,
                 credentials: Credentials | None = None, retries: urllib3.Retry | None = None,
                 timeout: urllib3.Timeout | None = None) -> None:
        self.host, self.plain_http = host, plain_http
        self.base = f"{'http' if plain_http else 'https'}://{host}"
        self._credentials = credentials
        self._looked_up = credentials is not None
        self._authorization: str | None = None
        self._lock = threading.Lock()  # one credential lookup when two threads meet a 401
        self.pool = urllib3.PoolManager(
            num_pools=4, maxsize=2, retries=retries or default_retry(),
            timeout=timeout or urllib3.Timeout(connect=15.0, read=120.0), blocksize=CHUNK,
            headers={"User-Agent": USER_AGENT})

    def url(self, path: str) -> str:
        return urllib.parse.urljoin(self.base + "/", path.lstrip("/"))

    def credentials(self) -> Credentials | None:
        with self._lock:
            if not self._looked_up:
                self._credentials = lookup(self.host)
                self._looked_up = True
            return self._credentials

    def request(self, method: str, url: str, *, what: str, headers: dict[str, str] | None =
                None, body: bytes | Body | None = None, expect: tuple[int, ...] = (200,),
                allow: tuple[int, ...] = (), retries: bool = True,
                timeout: float | None = None) -> urllib3.BaseHTTPResponse:
        """Send; answer a 401 challenge once and send again; return the response when its
        status is in ``expect`` or ``allow`` (the caller reads and releases it), else
        raise the error for it.  ``what`` names the request in messages; ``retries=False``
        sends it once (a clean-up that may fail), ``timeout`` seconds at most to connect
        and for each read."""
        start = body.tell() if body is not None and not isinstance(body, bytes) else None
        sent_with = self._authorization
        resp = self._send(method, url, headers, body, sent_with, retries, timeout)
        if resp.status == 401:
            challenge = parse_challenge(resp.headers.get("WWW-Authenticate"))
            discard(resp)
            authorization = self._authenticate(challenge, what, refused=sent_with,
                                               keep=method not in ("GET", "HEAD"))
            if start is not None:
                body.seek(start)  # type: ignore[union-attr]
            # sent again with what this request obtained, whatever another thread keeps
            resp = self._send(method, url, headers, body, authorization, retries, timeout)
        if resp.status in expect or resp.status in allow:
            return resp
        raise self.status_error(resp, what)

    def _send(self, method: str, url: str, headers: dict[str, str] | None,
              body: bytes | Body | None, authorization: str | None, retries: bool,
              timeout: float | None = None) -> urllib3.BaseHTTPResponse:
        sent = dict(headers or {})
        if authorization and _same_origin(url, self.base):
            sent["Authorization"] = authorization
        extra: dict[str, Any] = {"timeout": timeout} if timeout else {}  # else the pool's
        try:
            return self.pool.request(method, url, headers=sent, body=body,  # type: ignore[arg-type]
                                     preload_content=False, redirect=method in ("GET", "HEAD"),
                                     retries=None if retries else False,  # None: the pool's
                                     **extra)
        except MaxRetryError as exc:
            raise self.unreachable(exc.reason or exc) from None
        except Urllib3Error as exc:
            raise self.unreachable(exc) from None

    def unreachable(self, exc: BaseException) -> RegistryError:
        if isinstance(exc, SSLError):
            return RegistryError(f"TLS with {self.host} failed: {_short(exc)}",
                              code="registry-unreachable",
                              hint="a registry without TLS (a local one) needs --plain-http; "
                                   "else check its certificate (SSL_CERT_FILE names extra "
                                   "CAs)")
        return RegistryError(f"cannot reach the registry {self.host}: {_reason(exc)}",
                          code="registry-unreachable",
                          hint=_hint_for(self.host, self.plain_http),
                          no_connection=isinstance(exc, NewConnectionError))

    # -- errors ---------------------------------------------------------------------

    def status_error(self, resp: urllib3.BaseHTTPResponse, what: str) -> RegistryError:
        detail = registry_error_text(_read_some(resp))
        said = f"{resp.status}{': ' + detail if detail else ''}"
        if resp.status in (401, 403):
            tried = self._credentials is not None or self._authorization is not None
            return RegistryError(
                f"{self.host} refused {what} ({said})", code="registry-auth",
                status=resp.status,
                hint="check the user name and password or token, and that it may do this"
                if tried else f"log in first ('docker login {self.host}'), or pass "
                              "--username and --password-stdin")
        if resp.status == 404:
            return RegistryError(f"{what}: not found on {self.host} ({said})",
                                 code="oci-not-found", status=404,
                              hint="check the repository name and the tag or digest")
        return RegistryError(f"{self.host} failed {what} ({said})", code="registry-error",
                             status=resp.status,
                             hint="the registry refused or failed the request; run again, "
                                  "or ask its operator")

    # -- auth -----------------------------------------------------------------------

    def _authenticate(self, challenge: Challenge | None, what: str, *, keep: bool,
                      refused: str | None) -> str:
        """Answer ``challenge``: the ``Authorization`` to send again with.  It is kept for
        the requests that follow when ``keep`` (it was obtained to write), when none is
        kept, or when the kept one is the one just ``refused`` (it expired): a token
        scoped to pull, which a ``HEAD`` in another thread obtained, never replaces a
        good one that may push."""
        creds = self.credentials()
        if challenge is not None and challenge.scheme == "bearer":
            authorization = "Bearer " + self._token(challenge, creds, what)
        elif challenge is not None and challenge.scheme == "basic" and creds is not None \
                and creds.username:
            authorization = creds.basic()
        else:
            raise UsageError(f"{self.host} needs credentials for {what}",
                             code="registry-auth",
                             hint=f"log in first ('docker login {self.host}'), or pass "
                                  "--username and --password-stdin")
        with self._lock:
            if keep or self._authorization is None or self._authorization == refused:
                self._authorization = authorization
        return authorization

    def _token(self, challenge: Challenge, creds: Credentials | None, what: str) -> str:
        realm = challenge.realm or ""
        scheme = urllib.parse.urlsplit(realm).scheme
        if scheme != "https" and not (scheme == "http" and self.plain_http):
            raise UsageError(f"{self.host} sent its token service as {realm[:200]!r}, which "
                             "is not an https URL", code="registry-auth",
                             hint="credentials are sent only over TLS; check the registry")
        params = {k: v for k, v in challenge.params.items() if k in ("service", "scope")}
        if creds is not None and creds.identity_token:
            form = {**params, "grant_type": "refresh_token", "client_id": USER_AGENT,
                    "refresh_token": creds.identity_token}
            resp = self._token_request("POST", realm, what, body=urllib.parse.urlencode(
                form).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            query = urllib.parse.urlencode(params)
            url = realm + ("&" if "?" in realm else "?") + query if query else realm
            headers = {"Authorization": creds.basic()} if creds and creds.username else {}
            resp = self._token_request("GET", url, what, headers=headers)
        return self._token_of(resp, realm)

    def _token_request(self, method: str, url: str, what: str, *, headers: dict[str, str],
                       body: bytes | None = None) -> bytes:
        try:
            resp = self.pool.request(method, url, headers=headers, body=body,
                                     preload_content=False, redirect=False)
        except (MaxRetryError, Urllib3Error) as exc:
            raise self.unreachable(getattr(exc, "reason", None) or exc) from None
        if resp.status != 200:
            discard(resp)
            raise UsageError(f"the token service of {self.host} refused {what} "
                             f"({resp.status})", code="registry-auth",
                             hint="check the user name and password or token")
        return read_bounded(resp, MAX_TOKEN_BODY, "the token", self)

    def _token_of(self, data: bytes, realm: str) -> str:
        try:
            value: Any = strict_json(data)
        except ValueError:
            value = None
        token = value.get("token") or value.get("access_token") \
            if isinstance(value, dict) else None
        if not isinstance(token, str) or not token or not token.isprintable():
            raise UsageError(f"the token service {realm[:200]} gave no token",
                             code="registry-auth", hint="check the registry's token service")
        return token

    def close(self) -> None:
        self.pool.clear()


def _same_origin(url: str, base: str) -> bool:
    a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _reason(exc: BaseException) -> str:
    """What the operating system said (``connection refused``), else urllib3's text."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror[0].lower() + seen.strerror[1:]
        seen = seen.__cause__ or seen.__context__
    return _short(exc)


def _short(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def discard(resp: urllib3.BaseHTTPResponse) -> None:
    """Give up on a response whose body is not wanted (or not wholly read): its
    connection is closed, never reused with bytes left in it."""
    with contextlib.suppress(Urllib3Error, OSError):
        resp.close()
    resp.release_conn()


def _read_some(resp: urllib3.BaseHTTPResponse) -> bytes:
    try:
        data = resp.read(MAX_ERROR_BODY, decode_content=True)
    except (Urllib3Error, OSError):
        data = b""
    discard(resp)
    return data


def registry_error_text(data: bytes) -> str:
    """The registry's ``{"errors": [{"code", "message"}]}``, as one short line."""
    try:
        value = json.loads(data.decode("utf-8"))
        errors = value["errors"]
        parts = [f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors[:3]]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return ""
    return _short("; ".join(p for p in parts if p))


def read_bounded(resp: urllib3.BaseHTTPResponse, limit: int, what: str,
                 transport: Transport) -> bytes:
    """The whole body, refused (``oci-too-large``) past ``limit`` bytes whatever the
    response's Content-Length says; a broken connection is ``registry-unreachable``."""
    from ..errors import PackageError

    chunks, total = [], 0
    try:
        for chunk in resp.stream(min(limit + 1, CHUNK)):
            total += len(chunk)
            if total > limit:
                raise PackageError(f"{what} from {transport.host} is larger than {limit} "
                                   "bytes", code="oci-too-large",
                                   hint="this is not a manifest this tool writes; check the "
                                        "reference")
            chunks.append(chunk)
    except Urllib3Error as exc:
        discard(resp)
        raise transport.unreachable(exc) from None
    except BaseException:
        discard(resp)
        raise
    resp.release_conn()
    return b"".join(chunks)
