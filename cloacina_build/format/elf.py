"""Native payloads: what a shared library is, read from the binary itself.

The manifest of a native package records the target triple, operating system,
architecture, ELF class, machine and byte order, the glibc floor implied by its versioned
symbol requirements, and its exported symbols, all read here with pyelftools, never taken
from what the build claims.  The validator reads the same facts again and compares.
"""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

from ..errors import PackageError
from ..model import NativeFacts

_ARCH = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64", "EM_386": "i686",
         "EM_ARM": "arm", "EM_RISCV": "riscv64", "EM_PPC64": "powerpc64",
         "EM_S390": "s390x"}
_OS = {"ELFOSABI_SYSV": "linux", "ELFOSABI_LINUX": "linux", "ELFOSABI_FREEBSD": "freebsd"}
METADATA_MARKER = b"cloacina-metadata-v1:"
MAX_METADATA = 1 << 20


class NativeError(PackageError):
    code = "native-not-elf"


def describe_library(path: Path) -> dict[str, Any]:
    """The manifest's ``native`` section for the library at ``path``; raises NativeError."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as fh:
        if fh.read(4) != b"\x7fELF":
            raise NativeError(f"{path.name} is not an ELF shared library",
                              code="native-not-elf")
        fh.seek(0)
        try:
            elf = ELFFile(fh)
            if elf["e_type"] != "ET_DYN":
                raise NativeError(f"{path.name} is an ELF {elf['e_type']}, not a shared "
                                  "library", code="native-not-shared")
            machine = elf["e_machine"]
            arch = _ARCH.get(machine, str(machine).removeprefix("EM_").lower())
            needed, glibc = _dynamic(elf)
            exported = _exported(elf)
        except NativeError:
            raise
        except (ELFError, ValueError, KeyError, IndexError, OSError, AssertionError,
                UnicodeDecodeError) as exc:
            raise NativeError(f"{path.name} is a damaged ELF file: {exc}",
                              code="native-corrupt") from None
        except Exception as exc:  # pyelftools raises construct errors on truncation
            raise NativeError(f"{path.name} is a damaged ELF file: {type(exc).__name__}",
                              code="native-corrupt") from None
    osabi = _OS.get(elf["e_ident"]["EI_OSABI"], str(elf["e_ident"]["EI_OSABI"]).lower())
    libc = "gnu" if any(n.startswith("libc.so") for n in needed) or glibc else "musl" \
        if any("musl" in n for n in needed) else "none"
    return {
        "target": f"{arch}-unknown-{osabi}-{libc}" if libc != "none" else
                  f"{arch}-unknown-{osabi}",
        "os": osabi,
        "arch": arch,
        "elf_class": elf.elfclass,
        "machine": machine,
        "endianness": "little" if elf.little_endian else "big",
        "glibc_floor": glibc,
        "needed": sorted(needed),
        "exported_symbols": exported,
    }


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def _dynamic(elf) -> tuple[list[str], str | None]:
    needed: list[str] = []
    for section in elf.iter_sections():
        if section["sh_type"] == "SHT_DYNAMIC":
            needed += [t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
    versions: list[str] = []
    for section in elf.iter_sections():
        if section["sh_type"] == "SHT_GNU_verneed":
            versions += _glibc_versions(section)
    floor = max(versions, key=_version_key).removeprefix("GLIBC_") if versions else None
    return needed, floor


VERSION_ENTRY_SIZE = 16  # Elf_Verneed and Elf_Vernaux are 16 bytes in either ELF class


def _glibc_versions(section) -> list[str]:
    """The GLIBC_x.y names a ``.gnu.version_r`` section requires.  Its entries are a chain
    of offsets whose counts come from the file, so a chain that points at itself would
    never end: no more entries are read than the section's bytes can hold."""
    budget = section["sh_size"] // VERSION_ENTRY_SIZE
    names: list[str] = []
    for _verneed, auxiliaries in section.iter_versions():
        budget -= 1
        for aux in auxiliaries:
            budget -= 1
            if budget < 0:
                break
            if aux.name.startswith("GLIBC_") and re.fullmatch(r"GLIBC_\d+(\.\d+)*",
                                                              aux.name):
                names.append(aux.name)
        if budget < 0:
            raise ValueError(f"its version requirements (.gnu.version_r) list more "
                             f"entries than its {section['sh_size']} bytes can hold "
                             "(a chain that loops)")  # reported as native-corrupt
    return names


def _exported(elf) -> list[str]:
    section = elf.get_section_by_name(".dynsym")
    if section is None:
        return []
    names = set()
    for sym in section.iter_symbols():
        if sym["st_shndx"] == "SHN_UNDEF" or not sym.name:
            continue
        if sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK") and \
                sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT"):
            names.add(sym.name)
    return sorted(names)


def embedded_metadata(path: Path) -> dict[str, Any] | None:
    """The JSON the workflow macros embed after ``cloacina-metadata-v1:``, if any."""
    chunk_size, overlap = 1 << 20, len(METADATA_MARKER)
    with open(path, "rb") as fh:
        offset, tail = 0, b""
        while True:
            chunk = fh.read(chunk_size)
            if not chunk:
                return None
            window = tail + chunk
            hit = window.find(METADATA_MARKER)
            if hit >= 0:
                fh.seek(offset - len(tail) + hit + len(METADATA_MARKER))
                data = fh.read(MAX_METADATA)
                break
            tail = window[-overlap:]
            offset += len(chunk)
    end = data.find(b"\0")
    if end < 0:
        return None
    try:
        value = json.loads(data[:end].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def host() -> dict[str, Any]:
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    glibc = None
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
        glibc = text.split()[-1] if text.startswith("glibc") else None
    except (ValueError, OSError, AttributeError):
        pass
    return {"os": platform.system().lower(), "arch": arch, "glibc": glibc}


def host_problems(native: NativeFacts) -> list[str]:
    """Why this machine could not load the library (empty when it could)."""
    here = host()
    out = []
    if native.os != here["os"]:
        out.append(f"built for {native.os}, this is {here['os']}")
    if native.arch != here["arch"]:
        out.append(f"built for {native.arch}, this machine is {here['arch']}")
    floor = native.glibc_floor
    if floor and (here["glibc"] is None or _version_key(floor) > _version_key(here["glibc"])):
        out.append(f"needs glibc {floor}, this machine has "
                   f"{here['glibc'] or 'no glibc'}")
    return out


def embedded_task_graph(meta: dict[str, Any]) -> dict[str, list[str]] | None:
    """Task id -> sorted dependencies from embedded metadata; None when it is not a list
    of tasks with a string id and a list of string dependencies."""
    tasks = meta.get("tasks", [])
    if not isinstance(tasks, list):
        return None
    out: dict[str, list[str]] = {}
    for task in tasks:
        if not isinstance(task, dict):
            continue  # entries that are not objects carry no edges
        task_id, deps = task.get("id"), task.get("dependencies", [])
        if not isinstance(task_id, str) or not isinstance(deps, list) or \
                not all(isinstance(d, str) for d in deps):
            return None
        out[task_id] = sorted(deps)
    return out
