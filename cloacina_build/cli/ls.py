"""``cloacinactl ls FILE``: every member of a package and every file of its payload."""

from __future__ import annotations

import sys

import click

from ..errors import EXIT_FAILED
from .options import (
    NORMAL,
    QUIET,
    VERBOSE,
    CloacinaCommand,
    emit_json,
    handle_errors,
    json_option,
    verbosity,
)
from .terminal import paint, printable

NOTES = {"no-hash": "no hash in RECORD", "not-in-record": "not in RECORD",
         "signature": "signature file, not in RECORD", "not-in-wheel": "not in the wheel",
         "size-differs": "RECORD's size differs from the zip's {zip_size}"}


@click.command("ls", cls=CloacinaCommand)
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
@handle_errors
def ls(file: str, as_json: bool) -> None:
    """List every member of the package FILE and every file of its payload.

    A wheel's files are listed as its RECORD gives them (size, sha256), read from the end
    of the wheel as the package streams past: nothing is extracted or written.  Hashes are
    not verified here ('cloacinactl validate' does that).  -v shows full sha256 digests."""
    from ..ops.listing import list_package
    from .progress import command_progress

    with command_progress() as progress:
        listing = list_package(file, progress=progress)
    if as_json:
        emit_json(listing.to_dict())
    else:
        click.echo(listing_text(listing, verbosity()))
        for finding in listing.findings:
            click.echo(paint(printable(finding.render()), err=True), err=True)
        if not listing.complete and verbosity() > QUIET:
            click.echo("note: the listing is incomplete: reading stopped at the problem "
                       "above", err=True)
    if not listing.ok:
        sys.exit(EXIT_FAILED)


def listing_text(listing, level: int = NORMAL) -> str:
    """Two sections, members and payload files, each with a totals line."""
    width = 64 if level >= VERBOSE else 12
    totals = listing.totals()
    lines = [] if level <= QUIET else [_title(listing), ""]
    lines += [f"members ({_kind(listing)})" if listing.root is None
              else f"members (under {listing.root}/)"]
    lines += [_heading(width)]
    lines += [_row(m.size, m.sha256, _member_name(m), width) for m in listing.members]
    lines += [f"  {_count(totals['members'], 'member')}, {totals['member_bytes']} bytes", ""]
    lines += [_files_heading(listing), _heading(width)]
    lines += [_row(f.shown_size, f.sha256, f.path + _note(f), width)
              for f in listing.payload_files]
    lines += [f"  {_count(totals['payload_files'], 'file')}, {totals['payload_bytes']} bytes"]
    if listing.native is not None:
        lines += _native_lines(listing.native)
    return "\n".join(printable(line) for line in lines)


def _kind(listing) -> str:
    return "engine archive" if listing.format == "engine" else f"{listing.format} package"


def _title(listing) -> str:
    p = listing.payload
    if p is None:
        return f"{listing.path}  ({_kind(listing)}, payload unknown)"
    if listing.format == "engine":
        return f"{listing.path}  (engine archive, source payload)"
    return f"{listing.path}  ({listing.format} package, {p.kind} payload {p.filename})"


def _files_heading(listing) -> str:
    p = listing.payload
    if listing.record is not None:
        return f"payload files (from {listing.record})"
    if p is not None and str(p.kind) == "native":
        return "payload files (the shared library)"
    if listing.format == "engine":
        return "payload files (the source)"
    return "payload files"


def _heading(width: int) -> str:
    return f"  {'SIZE':>10}  {'SHA256':<{width}}  PATH"


def _row(size: int | None, sha256: str | None, name: str, width: int) -> str:
    shown = str(size) if size is not None else "?"
    return f"  {shown:>10}  {(sha256 or '-')[:width]:<{width}}  {name}"


def _member_name(member) -> str:
    if member.type == "file":
        return member.path
    if member.type == "dir":
        return member.path.rstrip("/") + "/"
    return f"{member.path}  ({member.type})"


def _note(f) -> str:
    if f.note is None:
        return ""
    return "  (" + NOTES.get(f.note, f.note).format(zip_size=f.zip_size) + ")"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _native_lines(native) -> list[str]:
    needed = ", ".join(native.needed) or "nothing"
    floor = f", glibc >= {native.glibc_floor}" if native.glibc_floor else ""
    return ["", f"ELF: {native.target}, {native.elf_class}-bit {native.machine} "
                f"{native.endianness}-endian{floor}", f"  needs {needed}",
            f"  exports {', '.join(native.exported_symbols) or 'nothing'}"]
