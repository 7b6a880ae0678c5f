"""Build a Rust workflow crate into a native payload: discovery, cargo, and the library.

``cargo build --release`` runs with ``--offline`` when every dependency is local (a path,
a ``[patch]`` with a path, or vendored sources); ``--native-lib PATH`` packages a library
built elsewhere instead.  The library's facts come from the binary (``native.py``); when
the library carries the workflow macros' metadata, its task graph must match the source.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import BuildError, UsageError
from ..format.elf import NativeError, describe_library, embedded_metadata
from ..model import NativeFacts, PayloadKind
from ..progress import NO_PROGRESS, Progress
from ..project.config import Project
from ..project.discovery import Discovery
from .payload import Payload

LIB_SUFFIXES = (".so", ".dylib", ".dll")


def native_payload(project: Project, found: Discovery, tmp: Path,
                   native_lib: Path | str | None, progress: Progress = NO_PROGRESS
                   ) -> Payload:
    if native_lib is not None:
        library = Path(native_lib)
        if not library.is_file():
            raise UsageError(f"no library at {library}")
        backend = "prebuilt (--native-lib)"
    else:
        library = _cargo_build(project, progress)
        backend = "cargo build --release" + (" --offline" if project.cargo["offline"] else "")
    progress.phase("checking the library")
    staged = tmp / library.name
    shutil.copyfile(library, staged)
    try:
        facts = describe_library(staged)
    except NativeError as exc:
        raise BuildError(f"the library cannot be packaged: {exc.message}",
                         code=exc.code) from None
    _check_embedded(staged, found)
    native = NativeFacts(
        target=facts["target"], os=facts["os"], arch=facts["arch"],
        elf_class=facts["elf_class"], machine=facts["machine"],
        endianness=facts["endianness"], glibc_floor=facts["glibc_floor"],
        needed=tuple(facts["needed"]), exported_symbols=tuple(facts["exported_symbols"]))
    return Payload(staged, PayloadKind.NATIVE, [native.target], project.version or "0",
                   backend, found, native)


def _check_embedded(library: Path, found: Discovery) -> None:
    meta = embedded_metadata(library)
    if meta is None:
        return
    in_binary = {t.get("id"): sorted(t.get("dependencies", [])) for t in meta.get("tasks", [])
                 if isinstance(t, dict)}
    in_source = {t.id: sorted(t.dependencies) for t in found.tasks}
    if in_binary != in_source:
        raise BuildError("the library's task graph differs from the crate's source (a stale "
                         "or foreign --native-lib?)",
                         hint="rebuild the library from this source")


def _cargo_build(project: Project, progress: Progress) -> Path:
    """``cargo build``; its messages (and progress bar) go to the terminal ``progress``
    lends it, else they are captured and the last lines of a failure are reported."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise UsageError("cargo is not installed; it is needed to build a Rust workflow "
                         "crate", hint="install Rust (rustup), or pass --native-lib with a "
                         "library built elsewhere")
    cmd = [cargo, "build", "--release", "--lib", "--message-format=json-render-diagnostics"]
    if project.cargo["offline"]:
        cmd.append("--offline")
    with progress.tool("cargo build") as terminal:
        env = {**os.environ, "CARGO_TERM_COLOR": "always" if terminal and terminal.colour
               else "never"}
        proc = subprocess.run(cmd, cwd=project.root, stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.PIPE if terminal is None else terminal.fd,
                              env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        if terminal is not None:
            raise BuildError("cargo build failed (its messages are above)",
                             hint="fix what cargo reports and package again")
        tail = proc.stderr.strip().splitlines()[-20:]
        raise BuildError("cargo build failed:\n" + "\n".join("  | " + t for t in tail),
                         hint="'cargo build --release' shows the same")
    return _library(proc.stdout)


def _library(messages: str) -> Path:
    """The one cdylib among cargo's JSON messages."""
    libraries = []
    for line in messages.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and \
                "cdylib" in msg.get("target", {}).get("crate_types", []):
            libraries += [Path(f) for f in msg.get("filenames", [])
                          if f.endswith(LIB_SUFFIXES)]
    if len(libraries) != 1:
        raise BuildError(f"cargo produced {len(libraries)} shared libraries; expected one "
                         "cdylib")
    return libraries[0]
