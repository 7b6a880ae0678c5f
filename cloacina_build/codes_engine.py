"""The finding codes of the engine's own archives (see docs/engine.md): one group of the
registry in :mod:`cloacina_build.codes`, kept in a module of its own for size."""

from __future__ import annotations

from .model.enums import Severity

E, W = Severity.ERROR, Severity.WARNING
_ENGINE = "engine.md"

ENGINE_CODES: tuple[str, list[tuple[str, Severity, str, str]]] = ("engine archives", [
    ("engine-not-bzip2", E, "the file does not start with a bzip2 stream", _ENGINE),
    ("engine-bzip2-corrupt", E, "the first bzip2 stream is corrupt", _ENGINE),
    ("engine-bzip2-truncated", E, "the file ends inside the first bzip2 stream", _ENGINE),
    ("engine-trailing-stream", W, "a second bzip2 stream after the first: the engine "
     "never reads it", _ENGINE),
    ("engine-trailing-data", W, "bytes after the first bzip2 stream: the engine never "
     "reads them", _ENGINE),
    ("engine-tar-corrupt", E, "a tar header, number or extension record is corrupt",
     _ENGINE),
    ("engine-tar-truncated", E, "the tar stream ends inside a header or member", _ENGINE),
    ("engine-limit-stream", E, "the first stream decompresses past our bound", _ENGINE),
    ("engine-limit-record", E, "a PAX or GNU long-name record over our 64 KiB bound",
     _ENGINE),
    ("engine-limit-entries", E, "more than 10,000 entries (the engine's unpack limit)",
     _ENGINE),
    ("engine-limit-size", E, "declared sizes over 500 MiB (the engine's unpack limit)",
     _ENGINE),
    ("engine-limit-ratio", E, "declared sizes over 10 x the file size (the engine's "
     "unpack limit)", _ENGINE),
    ("engine-limit-upload", W, "the file is over the server's 100 MiB upload limit",
     _ENGINE),
    ("engine-symlink", E, "a symlink member (the engine refuses the archive)", _ENGINE),
    ("engine-hardlink", E, "a hard-link member (the engine refuses the archive)",
     _ENGINE),
    ("engine-path-parent", E, "a member path with '..' (the engine refuses the archive)",
     _ENGINE),
    ("engine-path-absolute", E, "an absolute member path (the engine refuses the "
     "archive)", _ENGINE),
    ("engine-path-long", E, "a member path over 4095 bytes or with a component over 255 "
     "bytes: the unpacker cannot create it", _ENGINE),
    ("engine-member-type", E, "a device, FIFO, sparse or unknown member the engine would "
     "write as a regular file", _ENGINE),
    ("engine-member-conflict", E, "a member name that is a file and the directory of "
     "another member: the unpacker cannot create both", _ENGINE),
    ("engine-member-duplicate", E, "a member that appears twice (the engine: last wins)",
     _ENGINE),
    ("engine-member-name", E, "a member name that is not UTF-8, has control characters "
     "or is a Windows path", _ENGINE),
    ("engine-member-case", W, "two members that differ only by case", _ENGINE),
    ("engine-member-mode", W, "a mode the engine's extraction could not read", _ENGINE),
    ("engine-pax-global", W, "a PAX global header (counted as an entry, sets nothing)",
     _ENGINE),
    ("engine-root-missing", E, "no top-level directory holds package.toml", _ENGINE),
    ("engine-root-ambiguous", E, "more than one top-level directory holds package.toml",
     _ENGINE),
    ("engine-root-extra", W, "top-level members outside the package root (discarded by "
     "the engine)", _ENGINE),
    ("engine-root-name", W, "the root directory is not NAME-VERSION", _ENGINE),
    ("engine-toml-syntax", E, "package.toml is not valid TOML", _ENGINE),
    ("engine-manifest", E, "the engine's resolver refuses package.toml", _ENGINE),
    ("engine-metadata-key", E, "an unknown [metadata] key (the engine's table is closed)",
     _ENGINE),
    ("engine-runtime-table", E, "a [python] or [wasm] table without the matching runtime",
     _ENGINE),
    ("engine-loader", E, "the upload would accept package.toml but the engine's Python "
     "loader would refuse it", _ENGINE),
    ("engine-language", E, "the language is not 'python' or 'rust', or cannot be "
     "inferred", _ENGINE),
    ("engine-name", E, "the name holds '/', or name or version is too long for the "
     "registry", _ENGINE),
    ("engine-layout", E, "workflow/, or Cargo.toml and src/lib.rs, are missing", _ENGINE),
    ("engine-entry-module", E, "entry_module does not resolve under workflow/", _ENGINE),
    ("engine-stdlib-shadow", E, "a top-level name in workflow/ or vendor/ shadows a "
     "stdlib module the engine denies", _ENGINE),
    ("engine-footgun", E, "a mistake package validate's lint_footguns refuses", _ENGINE),
    ("engine-stray-python", W, "a .py file outside workflow/ declaring params the "
     "engine's compiler would pick up", _ENGINE),
    ("engine-junk", W, "files a build would not ship (__pycache__, .pyc, old archives)",
     _ENGINE),
    ("engine-no-tasks", E, "no tasks: the engine's Python loader fails with 'Empty "
     "package'", _ENGINE),
    ("engine-build-manifest", E, ".cloacina-build/manifest.json is unreadable", _ENGINE),
    ("engine-build-member", E, "a file other than manifest.json under .cloacina-build/ "
     "in the first stream (a signature record belongs in the second)",
     "engine.md#signing-engine-archives"),
    ("engine-unsupported", E, "an engine archive given to a reader of this tool's zstd "
     "format only", _ENGINE),
])
