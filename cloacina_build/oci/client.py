"""A small OCI distribution client: blobs, manifests and referrers of one registry.

``Registry(host, plain_http=False, auth=None)``; every method names the repository.  Blobs
stream both ways in 1 MiB pieces (see :mod:`.blobs`); manifests are bounded to 4 MiB and
checked against their digest.  Referrers use the OCI 1.1 referrers API when the registry
has one (``GET /v2/<name>/referrers/<digest>`` answers 200 with an index) and otherwise the
fallback tag ``sha256-<hex>``: an index this client reads, changes and writes back when it
pushes a referrer (two clients adding referrers to one subject at the same moment can lose
one: the OCI 1.1 fallback has no lock).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import PackageError
from ..progress import NO_PROGRESS, Progress
from . import blobs
from .auth import Credentials
from .lookahead import upload_file
from .manifest import (
    MAX_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Index,
    parse_index,
    sha256_digest,
)
from .reference import DIGEST
from .transport import Transport, discard, read_bounded


@dataclass(frozen=True)
class Fetched:
    """A manifest's bytes as the registry sent them, and their digest."""

    data: bytes
    digest: str


@dataclass(frozen=True)
class Put:
    digest: str
    subject: str | None  # OCI-Subject: the registry indexed the referrer itself


MAX_REMEMBERED = 64  # manifests a client keeps (each at most 4 MiB, most under 2 KiB)


def fallback_tag(digest: str) -> str:
    """The OCI 1.1 referrers fallback tag of a subject: ``sha256-<hex>``."""
    return digest.replace(":", "-", 1)


class Registry:
    """One registry. ``auth``: credentials to use (else docker's, looked up on a 401).
    ``chunk_size``: blobs larger than ``monolithic_max`` are sent in PATCH chunks of this
    many bytes."""

    def __init__(self, host: str, *, plain_http: bool = False, auth: Credentials | None =
                 None, transport: Transport | None = None, chunk_size: int = 64 << 20,
                 monolithic_max: int = 256 << 20) -> None:
        self.host = host
        self.transport = transport or Transport(host, plain_http=plain_http, credentials=auth)
        self.chunk_size, self.monolithic_max = chunk_size, monolithic_max
        self._manifests: dict[tuple[str, str], Fetched] = {}  # (repo, digest): fetched
        self._present: set[tuple[str, str]] = set()  # (repo, digest) of blobs known there

    def url(self, repo: str, *parts: str) -> str:
        return self.transport.url("/v2/" + repo + "/" + "/".join(
            urllib.parse.quote(p, safe=":") for p in parts))

    # -- blobs ----------------------------------------------------------------------

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.transport.request("HEAD", self.url(repo, "blobs", digest),
                                      what=f"checking blob {digest[:19]}", allow=(404,))
        discard(resp)
        return resp.status == 200

    def push_blob(self, repo: str, data: bytes, digest: str) -> bool:
        """Upload a blob unless the repository has it (asked once per client: the empty
        config every referrer shares is not asked about again); True when it was
        uploaded.  ``data``
        is sent monolithic up to ``monolithic_max``, else in chunks, and again from the
        start when the upload breaks (a package file goes through :meth:`push_file`)."""
        if (repo, digest) in self._present or self.blob_exists(repo, digest):
            self._present.add((repo, digest))
            return False
        blobs.upload(self, repo, data, digest)
        self._present.add((repo, digest))
        return True

    def push_file(self, repo: str, path: Path, size: int, *,
                  progress: Progress = NO_PROGRESS) -> tuple[str, bool]:
        """Upload a file whose digest is not known yet: it is hashed while it is sent,
        and the upload is given up when the repository turns out to have it (see
        :func:`.lookahead.upload_file`).  Its digest, and whether it was sent."""
        return upload_file(self, repo, path, size, progress)

    def get_blob(self, repo: str, desc: Descriptor, out: IO[bytes], *,
                 progress: Progress = NO_PROGRESS) -> None:
        """Stream a blob into ``out``, checking its size and digest as it comes; a
        mismatch is ``oci-digest-mismatch`` (``out`` then holds bytes to throw away)."""
        blobs.download(self, repo, desc, out, progress)

    def get_small_blob(self, repo: str, desc: Descriptor, limit: int) -> bytes:
        """A blob of at most ``limit`` bytes (a config, a signature), digest checked."""
        if desc.size > limit:
            raise PackageError(f"blob {desc.digest} of {repo} is {desc.size} bytes, more "
                               f"than the {limit} allowed", code="oci-too-large",
                               hint="this is not an artifact this tool pushed")
        resp = self.transport.request("GET", self.url(repo, "blobs", desc.digest),
                                      what=f"fetching blob {desc.digest[:19]} of {repo}")
        data = read_bounded(resp, limit, f"blob {desc.digest}", self.transport)
        blobs.check(data, desc, repo)
        return data

    # -- manifests ------------------------------------------------------------------

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        """Store a manifest (or index) under a tag or its digest; its digest."""
        return self.put(repo, ref, data, media_type).digest

    def put(self, repo: str, ref: str, data: bytes, media_type: str) -> Put:
        digest = sha256_digest(data)
        resp = self.transport.request(
            "PUT", self.url(repo, "manifests", ref), what=f"storing manifest {repo}:{ref}",
            headers={"Content-Type": media_type}, body=data, expect=(201, 200))
        said, subject = resp.headers.get("Docker-Content-Digest"), \
            resp.headers.get("OCI-Subject")
        discard(resp)
        if said and said != digest:
            raise PackageError(f"{self.host} stored manifest {repo}:{ref} as {said[:80]}, not "
                               f"{digest}", code="oci-digest-mismatch",
                               hint="the registry changed the manifest; ask its operator")
        return Put(digest, subject)

    def get_manifest(self, repo: str, ref: str,
                     accept: tuple[str, ...] = (OCI_MANIFEST,)) -> Fetched:
        """A manifest by tag or digest, at most 4 MiB; fetched by digest, its bytes must
        have that digest.  A manifest this client has fetched already (by tag or by digest)
        is not asked for again by digest: its bytes are the digest's, whoever asks."""
        if (repo, ref) in self._manifests:
            return self._manifests[(repo, ref)]
        resp = self.transport.request("GET", self.url(repo, "manifests", ref),
                                      what=f"fetching manifest {repo}:{ref}",
                                      headers={"Accept": ", ".join(accept)})
        data = read_bounded(resp, MAX_MANIFEST, f"manifest {repo}:{ref}", self.transport)
        digest = sha256_digest(data)
        if DIGEST.fullmatch(ref) and digest != ref:
            raise PackageError(f"manifest {repo}@{ref} from {self.host} has digest {digest}",
                               code="oci-digest-mismatch",
                               hint="the registry sent other bytes than were asked for; "
                                    "nothing was written")
        if len(self._manifests) >= MAX_REMEMBERED:
            self._manifests.clear()
        self._manifests[(repo, digest)] = fetched = Fetched(data, digest)
        return fetched

    def resolve(self, repo: str, ref: str) -> str:
        """The digest a tag points at now (a digest resolves to itself, checked)."""
        return self.get_manifest(repo, ref, (OCI_MANIFEST, OCI_INDEX)).digest

    # -- referrers ------------------------------------------------------------------

    def referrers(self, repo: str, digest: str, artifact_type: str | None = None
                  ) -> list[Descriptor]:
        """The manifests whose ``subject`` is ``digest``: from the referrers API, else
        from the fallback tag; only those of ``artifact_type`` when it is given."""
        index = self._referrers_api(repo, digest, artifact_type)
        if index is None:
            index = self.fallback_index(repo, digest)
        return [d for d in index.manifests if d.media_type == OCI_MANIFEST and
                (artifact_type is None or d.artifact_type == artifact_type)]

    def _referrers_api(self, repo: str, digest: str, artifact_type: str | None
                       ) -> Index | None:
        url = self.url(repo, "referrers", digest)
        if artifact_type:
            url += "?" + urllib.parse.urlencode({"artifactType": artifact_type})
        resp = self.transport.request("GET", url, what=f"listing referrers of {repo}@"
                                      f"{digest[:19]}", headers={"Accept": OCI_INDEX},
                                      allow=(404, 400, 405))
        media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        if resp.status != 200 or media_type != OCI_INDEX:
            discard(resp)
            return None
        data = read_bounded(resp, MAX_MANIFEST, "the referrers list", self.transport)
        return parse_index(data, f"the referrers of {repo}@{digest}")

    def fallback_index(self, repo: str, digest: str) -> Index:
        tag = fallback_tag(digest)
        resp = self.transport.request("GET", self.url(repo, "manifests", tag),
                                      what=f"fetching the referrers index {repo}:{tag}",
                                      headers={"Accept": OCI_INDEX}, allow=(404,))
        if resp.status == 404:
            discard(resp)
            return Index()
        data = read_bounded(resp, MAX_MANIFEST, f"index {repo}:{tag}", self.transport)
        return parse_index(data, f"the referrers index {repo}:{tag}")

    def push_referrer_manifest(self, repo: str, data: bytes, desc: Descriptor,
                               subject: str) -> None:
        """Store a referrer manifest by digest; when the registry does not index it itself
        (no ``OCI-Subject`` in its answer), add ``desc`` to the fallback index."""
        put = self.put(repo, desc.digest, data, OCI_MANIFEST)
        if put.subject == subject:
            return
        index = self.fallback_index(repo, subject)
        entries = tuple(d for d in index.manifests if d.digest != desc.digest) + (desc,)
        self.put(repo, fallback_tag(subject), Index(entries, index.annotations).to_bytes(),
                 OCI_INDEX)

    def close(self) -> None:
        self.transport.close()
