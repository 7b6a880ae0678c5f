"""Every finding and error code in one registry: the code, its default severity, a one-line
summary and the documentation page that explains it.

Codes are stable: tools match on them (``--json``, SARIF).  Every code the library emits is
registered here; a test records every finding the whole suite produces and fails on an
unregistered one, and ``docs/format.md``'s table is generated from this registry
(``python -m cloacina_build.codes``) and checked against it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .codes_engine import ENGINE_CODES
from .model.enums import Severity

E, W = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    severity: Severity
    summary: str
    doc: str  # page (and anchor) under docs/

    @property
    def group(self) -> str:
        return _GROUP_OF.get(self.code, "other")


_FORMAT = "format.md#validation-findings"
_SIGNING = "signing.md#verifying"
_NATIVE = "native.md"
_LOADER = "loader.md"
_OCI = "oci.md#errors"
_PROVENANCE = "provenance.md#verifying"

_TABLE: list[tuple[str, list[tuple[str, Severity, str, str]]]] = [
    ("archive", [
        ("archive-not-zstd", E, "the file is not a zstd-compressed package", _FORMAT),
        ("archive-corrupt", E, "the zstd stream or a tar header is corrupt", _FORMAT),
        ("archive-truncated", E, "the archive ends inside a frame, header or member", _FORMAT),
        ("archive-trailing-data", E, "data after the end of the archive", _FORMAT),
        ("archive-layout", E, "the frames are not head, payload and trailer", _FORMAT),
        ("member-type", E, "a member that is not a regular file", _FORMAT),
        ("member-order", E, "package.toml not first, the manifest not second, or a "
         "signature before the payload", _FORMAT),
    ]),
    ("member names", [
        ("member-name-empty", E, "an empty member name", _FORMAT),
        ("member-name-control", E, "a member name with control characters", _FORMAT),
        ("member-name-encoding", E, "a member name that is not UTF-8", _FORMAT),
        ("member-name-absolute", E, "an absolute member name", _FORMAT),
        ("member-name-backslash", E, "a member name with a backslash", _FORMAT),
        ("member-name-drive", E, "a member name with a drive letter", _FORMAT),
        ("member-name-parent", E, "a member name that climbs out with '..'", _FORMAT),
        ("member-name-not-normalised", E, "a member name with '.', empty components or "
         "non-NFC Unicode", _FORMAT),
        ("member-name-too-long", E, "a member name longer than 255 bytes", _FORMAT),
        ("member-name-duplicate", E, "a member that appears twice", _FORMAT),
        ("member-name-case-collision", E, "two members that differ only by case", _FORMAT),
    ]),
    ("limits", [
        ("limit-member-count", E, "more members than the limit", _FORMAT),
        ("limit-member-size", E, "a member larger than the limit", _FORMAT),
        ("limit-total-size", E, "the decompressed package is larger than the limit", _FORMAT),
        ("limit-metadata-size", E, "package.toml, the manifest or a signature is larger than "
         "the metadata limit", _FORMAT),
        ("limit-manifest-size", E, "the manifest is larger than the manifest limit "
         "(32 MiB)", _FORMAT),
        ("limit-signatures", E, "more embedded signatures than the limit", _FORMAT),
        ("limit-signature-size", E, "a signature record larger than the limit", _FORMAT),
        ("limit-compression-ratio", E, "the compression ratio exceeds the limit", _FORMAT),
    ]),
    ("metadata", [
        ("package-toml-syntax", E, "package.toml is not valid TOML", _FORMAT),
        ("schema-package-toml", E, "package.toml breaks its schema", _FORMAT),
        ("manifest-syntax", E, "the manifest is not a JSON object of text", _FORMAT),
        ("schema-manifest", E, "the manifest has the wrong shape or breaks a rule", _FORMAT),
        ("manifest-unusable", E, "the manifest cannot be used for further checks", _FORMAT),
        ("metadata-mismatch", E, "package.toml and the manifest disagree", _FORMAT),
    ]),
    ("members and digests", [
        ("digest-mismatch", E, "a member's bytes differ from the manifest", _FORMAT),
        ("digest-size-mismatch", E, "a member's size differs from the manifest", _FORMAT),
        ("member-missing", E, "a member listed in the manifest is not in the archive", _FORMAT),
        ("member-unlisted", E, "an archive member the manifest does not list", _FORMAT),
        ("member-listed-manifest", E, "the manifest lists itself", _FORMAT),
    ]),
    ("payload", [
        ("payload-name", E, "the payload's file name is wrong or disagrees with the "
         "manifest", _FORMAT),
        ("payload-identity", E, "the payload's name or version disagrees with the package",
         _FORMAT),
        ("payload-tags", E, "the payload's platform tags disagree with the manifest", _FORMAT),
        ("payload-unlisted", E, "the payload is not listed in the manifest's members",
         _FORMAT),
        ("wheel-bad-zip", E, "the wheel is not a readable zip", _FORMAT),
        ("wheel-record", E, "the wheel's RECORD is missing or wrong", _FORMAT),
        ("wheel-record-dangling", E, "the wheel's RECORD lists a file the wheel does not "
         "contain", _FORMAT),
        ("wheel-dist-info", E, "not exactly one .dist-info directory, or one named for "
         "another distribution", _FORMAT),
        ("wheel-data-dir", E, "the .data directory is a file, holds files outside a scheme "
         "directory, or is named for another distribution", _FORMAT),
        ("wheel-data-scheme", E, "a .data scheme other than purelib, platlib, headers, "
         "scripts, data", _FORMAT),
        ("wheel-version-missing", E, "no WHEEL file, or no Wheel-Version in it", _FORMAT),
        ("wheel-version-unsupported", E, "a Wheel-Version other than 1.x", _FORMAT),
        ("wheel-metadata-encoding", E, "the wheel's METADATA is not UTF-8", _FORMAT),
        ("wheel-metadata-invalid", E, "the wheel's METADATA is missing, malformed, or names "
         "another distribution or version", _FORMAT),
        ("wheel-entry-points-syntax", E, "entry_points.txt cannot be parsed as the installer "
         "reads it", _FORMAT),
        ("wheel-entry-point-name", E, "a script entry point whose name is not a safe file "
         "name, or is declared twice", _FORMAT),
        ("wheel-install-collision", E, "two wheel files (or scripts) the installer would "
         "write to one place", _FORMAT),
        ("wheel-limit-dist-info", E, "a .dist-info file the installer reads is over 16 MiB",
         _FORMAT),
        ("wheel-member-type", E, "a wheel entry that is not a regular file", _FORMAT),
        ("wheel-member-name-empty", E, "a wheel entry with an empty name", _FORMAT),
        ("wheel-member-name-control", E, "a wheel entry name with control characters",
         _FORMAT),
        ("wheel-member-name-encoding", E, "a wheel entry name that is not UTF-8", _FORMAT),
        ("wheel-member-name-absolute", E, "an absolute wheel entry name", _FORMAT),
        ("wheel-member-name-backslash", E, "a wheel entry name with a backslash", _FORMAT),
        ("wheel-member-name-drive", E, "a wheel entry name with a drive letter", _FORMAT),
        ("wheel-member-name-parent", E, "a wheel entry name that climbs out with '..'",
         _FORMAT),
        ("wheel-member-name-not-normalised", E, "a wheel entry name not in normal form",
         _FORMAT),
        ("wheel-member-name-too-long", E, "a wheel entry name longer than 255 bytes", _FORMAT),
        ("wheel-member-name-duplicate", E, "a wheel entry that appears twice", _FORMAT),
        ("wheel-member-name-case-collision", E, "two wheel entries that differ only by case",
         _FORMAT),
        ("wheel-limit-entries", E, "more wheel entries than the limit", _FORMAT),
        ("wheel-limit-size", E, "the wheel's declared size exceeds the limit", _FORMAT),
        ("wheel-limit-ratio", E, "a wheel entry's compression ratio exceeds the limit",
         _FORMAT),
        ("wheel-limit-index", E, "the wheel's central directory is larger than the part "
         "of the wheel 'ls' keeps", _FORMAT),
        ("native-not-elf", E, "a native payload that is not an ELF file", _NATIVE),
        ("native-not-shared", E, "a native payload that is not a shared library", _NATIVE),
        ("native-corrupt", E, "a native payload whose ELF structures are damaged", _NATIVE),
        ("native-mismatch", E, "the ELF facts differ from the manifest", _NATIVE),
    ]),
    ("tasks and graph", [
        ("tasks-entry-missing", E, "the entry module is not in the payload", _FORMAT),
        ("tasks-rediscovery", E, "tasks could not be rediscovered from the payload", _FORMAT),
        ("tasks-drift", E, "the tasks in the payload differ from the manifest", _FORMAT),
        ("graph-empty", E, "the workflow has no tasks", _FORMAT),
        ("graph-too-large", E, "the workflow has more tasks than a package may hold "
         "(50,000)", _FORMAT),
        ("graph-duplicate-id", E, "two tasks share an id", _FORMAT),
        ("graph-unknown-dependency", E, "a task depends on an unknown task", _FORMAT),
        ("graph-unknown-rule-task", E, "a trigger rule names an unknown task", _FORMAT),
        ("graph-cycle", E, "the dependencies form a cycle", _FORMAT),
        ("workflow-fingerprint", E, "the workflow fingerprint does not match its tasks",
         _FORMAT),
    ]),
    ("signatures", [
        ("signature-malformed", E, "a signature record is damaged", _SIGNING),
        ("signature-trailer", E, "the signature trailer is not canonical", _SIGNING),
        ("signature-invalid", E, "a signature does not verify", _SIGNING),
        ("signature-content-mismatch", E, "a signature was made over other bytes", _SIGNING),
        ("signature-wrong-package", E, "a signature was made for another package", _SIGNING),
        ("signature-untrusted", E, "signed by a key that is not trusted", _SIGNING),
        ("signature-key-expired", E, "signed by a key that has expired", _SIGNING),
        ("signature-key-revoked", E, "signed by a revoked key", _SIGNING),
        ("signature-missing", E, "unsigned, and a signature is required", _SIGNING),
        ("signature-threshold", E, "fewer distinct trusted signers than required", _SIGNING),
        ("rollback", E, "a version older than the highest already seen", _SIGNING),
    ]),
    ("provenance", [
        ("provenance-missing", E, "no FILE.intoto.jsonl, and provenance is required", _PROVENANCE),
        ("provenance-malformed", E, "the attestation is not a readable DSSE envelope or "
         "statement", _PROVENANCE),
        ("provenance-payload-type", E, "the envelope is not an in-toto attestation", _PROVENANCE),
        ("provenance-invalid", E, "the attestation's signature does not verify", _PROVENANCE),
        ("provenance-untrusted", E, "attested by a key that is not trusted", _PROVENANCE),
        ("provenance-key-expired", E, "attested by a key that has expired", _PROVENANCE),
        ("provenance-key-revoked", E, "attested by a revoked key", _PROVENANCE),
        ("provenance-statement", E, "not an in-toto v1 statement of SLSA provenance v1",
         _PROVENANCE),
        ("provenance-subject-mismatch", E, "the attestation names other bytes or another "
         "file", _PROVENANCE),
    ]),
    ("host", [
        ("host-python", W, "this interpreter does not satisfy requires_python", _FORMAT),
        ("host-tags", W, "this machine cannot install the wheel's platform tags", _FORMAT),
        ("host-native", W, "this machine cannot load the native library", _NATIVE),
    ]),
    ("project configuration", [
        ("config", E, "the project configuration has errors", _FORMAT),
        ("config-unreadable", E, "the configuration file cannot be read", _FORMAT),
        ("config-settings", E, "cloacina-build.toml holds an unknown key or value", _FORMAT),
        ("config-syntax", E, "the configuration file is not valid TOML", _FORMAT),
        ("config-schema", E, "a configuration key is unknown or of the wrong type", _FORMAT),
        ("config-name", E, "the package name is missing or invalid", _FORMAT),
        ("config-version", E, "the version is missing or not PEP 440", _FORMAT),
        ("config-requires-python", E, "requires_python is not a version specifier", _FORMAT),
        ("config-language", E, "the language does not match the project", _FORMAT),
        ("config-layout", E, "the project is not laid out as its kind needs", _FORMAT),
        ("config-entry-module", E, "the entry module does not exist", _FORMAT),
        ("config-project", E, "pyproject.toml or Cargo.toml lacks its main table", _FORMAT),
        ("config-tool-table", E, "pyproject.toml lacks a [tool.cloacina] table", _FORMAT),
        ("config-package-type", E, "package_type is set; the engine infers it", _FORMAT),
        ("config-triggers", E, "triggers are declared in metadata instead of code", _FORMAT),
        ("config-crate-type", E, "the Rust crate does not build a cdylib", _NATIVE),
        ("config-workflow-name", E, "the workflow name is invalid", _FORMAT),
    ]),
    ("discovery", [
        ("source-syntax", E, "a source file does not parse", _FORMAT),
        ("source-too-large", E, "a source file is larger than 4 MiB", _FORMAT),
        ("source-too-complex", E, "a source file nests too deeply to read safely", _FORMAT),
        ("task-argument", E, "a task declaration the rule book refuses", _FORMAT),
        ("task-dependencies", E, "a dependency names a function that is not a task", _FORMAT),
        ("task-placement", E, "a task that would never register (not at module level)",
         _FORMAT),
        ("task-trigger-rules", E, "trigger rules that cannot be read statically", _FORMAT),
        ("trigger-argument", E, "a trigger declaration the rule book refuses", _FORMAT),
        ("workflow-params-argument", E, "a params declaration the rule book refuses", _FORMAT),
        ("workflow-secrets-argument", E, "a secrets declaration the rule book refuses",
         _FORMAT),
        ("workflow-argument", E, "a Rust #[workflow] attribute the rule book refuses",
         _NATIVE),
        ("workflow-missing", E, "no #[workflow] module in a Rust crate", _NATIVE),
        ("workflow-multiple", E, "more than one #[workflow] module in a Rust crate", _NATIVE),
        ("workflow-placement", E, "#[workflow] not on an inline module", _NATIVE),
    ]),
    ENGINE_CODES,
    ("registry", [
        ("oci-reference", E, "a malformed oci:// reference, or no tag or digest (exit 2)", _OCI),
        ("registry-unreachable", E, "connection, DNS or TLS failure after retries (exit 2)", _OCI),
        ("registry-auth", E, "the registry refused the credentials, or needs some (exit 2)", _OCI),
        ("registry-credentials", E, "docker's config or a credential helper failed (exit 2)",
         _OCI),
        ("registry-error", E, "the registry failed or refused a request (exit 2)", _OCI),
        ("oci-not-found", E, "no such repository, tag, digest or blob (exit 2)", _OCI),
        ("oci-manifest", E, "a manifest, config or referrer is malformed or misplaced", _OCI),
        ("oci-not-package", E, "the artifact is not a cloacina package", _OCI),
        ("oci-too-large", E, "something from the registry is larger than allowed", _OCI),
        ("oci-digest-mismatch", E, "bytes from the registry do not match their digest", _OCI),
        ("pull-unverified", E, "pull --trust: the package did not verify (nothing written)",
         _OCI),
    ]),
    ("errors", [
        ("error", E, "a generic error", _FORMAT),
        ("usage", E, "bad arguments or an environment that cannot do the job (exit 2)",
         _FORMAT),
        ("os-error", E, "the operating system refused to read or write a file (exit 2)",
         _FORMAT),
        ("exists", E, "the output exists and would be replaced: a signature or a signed "
         "package; nothing was changed (exit 2; --force replaces it)", "signing.md#signing"),
        ("project", E, "the workflow project is wrong", _FORMAT),
        ("workflow", E, "the workflow's tasks or graph have problems (see its findings)",
         _FORMAT),
        ("invalid", E, "the package failed validation (see its findings)", _FORMAT),
        ("build", E, "the payload build failed", _FORMAT),
        ("engine-no-build-manifest", E, "an engine archive without "
         ".cloacina-build/manifest.json takes only a detached signature (exit 2)",
         "engine.md#signing-engine-archives"),
        ("engine-refused", E, "package --format engine refused an archive the engine would "
         "refuse (nothing was written)", "engine.md"),
        ("convert-invalid", E, "convert: the input does not validate (nothing was "
         "written)", "engine.md#converting-cloacinactl-convert"),
        ("convert-native", E, "convert: a native (Rust) payload has no source to put in an "
         "engine archive", "engine.md#converting-cloacinactl-convert"),
        ("convert-compiled", E, "convert: the wheel is not pure Python (compiled files or "
         "Root-Is-Purelib false)", "engine.md#converting-cloacinactl-convert"),
        ("convert-wheel-data", E, "convert: the wheel installs .data scripts, headers or "
         "data", "engine.md#converting-cloacinactl-convert"),
        ("convert-stdlib-shadow", E, "convert: a top-level name of the wheel is on the "
         "engine's stdlib deny list", "engine.md#converting-cloacinactl-convert"),
        ("convert-no-workflow", E, "convert: the engine archive holds no Python workflow",
         "engine.md#converting-cloacinactl-convert"),
        ("convert-lossy", E, "convert: files or package.toml keys the other format would "
         "not carry", "engine.md#converting-cloacinactl-convert"),
        ("convert-drift", E, "convert: the converted workflow's tasks or fingerprints "
         "differ from the original's", "engine.md#converting-cloacinactl-convert"),
        ("manifest-refused", E, "the builder refused the manifest it made: it would not "
         "validate (nothing was written)", _FORMAT),
        ("backend-unavailable", E, "the project's build backend is not installed", _FORMAT),
        ("output-unwritable", E, "an output file cannot be written where it was asked "
         "(exit 2)", _FORMAT),
        ("package", E, "a package is malformed, hostile or fails a check", _FORMAT),
        ("key", E, "a key cannot be read, written or used", _SIGNING),
        ("trust", E, "a trust source cannot be read", _SIGNING),
        ("requires-python", E, "the package needs another Python", _LOADER),
        ("load-refused", E, "the loader refused the package", _LOADER),
        ("load-install", E, "the loader could not install the package's wheel", _LOADER),
        ("cache-unusable", E, "the loader's cache directory cannot be written (exit 2)",
         _LOADER),
        ("load-native", E, "native packages and Rust engine archives are loaded by the "
         "engine, not here", _LOADER),
        ("cloaca-missing", E, "the package imports cloaca names the stand-in lacks", _LOADER),
        ("import-failed", E, "the workflow's modules failed to import", _LOADER),
        ("drift", E, "the registrations differ from the manifest", _LOADER),
        ("param", E, "a workflow param is missing or of the wrong type", _LOADER),
    ]),
]

REGISTRY: dict[str, CodeInfo] = {}
_GROUP_OF: dict[str, str] = {}
for _group, _rows in _TABLE:
    for _code, _sev, _summary, _doc in _rows:
        if _code in REGISTRY:  # pragma: no cover - a mistake in this file
            raise RuntimeError(f"code {_code} registered twice")
        REGISTRY[_code] = CodeInfo(_code, _sev, _summary, _doc)
        _GROUP_OF[_code] = _group


def info(code: str) -> CodeInfo | None:
    return REGISTRY.get(code)


def anchor(code: str) -> str:
    """The HTML anchor of ``code``'s row in docs/format.md's table (SARIF links to it)."""
    return f"code-{code}"


def markdown_table() -> str:
    """The table docs/format.md carries between its ``codes:begin``/``codes:end`` marks;
    each row starts with an anchor, ``format.md#code-CODE``."""
    lines = ["| code | group | severity | meaning |", "|------|-------|----------|---------|"]
    for group, rows in _TABLE:
        for code, severity, summary, doc in rows:
            link = "" if doc == _FORMAT else f" ([{doc.split('#')[0]}]({doc}))"
            lines.append(f'| <a id="{anchor(code)}"></a>`{code}` | {group} | '
                         f"{severity.value} | {summary}{link} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(markdown_table())
