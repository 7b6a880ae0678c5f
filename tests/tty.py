"""Run the real ``cloacinactl`` with its standard output and standard error on
pseudo-terminals (each its own, so they stay apart), or either on a pipe."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CLI = str(Path(sys.executable).with_name("cloacinactl"))
CLEAR = "\r\x1b[K"
EOF_MARK = b"\0EOF"


@dataclass
class Ran:
    code: int
    out: str    # standard output as written (a terminal's \r\n made \n)
    err: str


def run(args: list[str], *, out_tty: bool = True, err_tty: bool = True,
        env: dict[str, str] | None = None, cwd: Path | str | None = None,
        interrupt_when: Callable[[str], bool] | None = None, timeout: float = 300) -> Ran:
    """``cloacinactl ARGS`` (progress shown at once: ``CLOACINA_PROGRESS_DELAY=0``);
    ``interrupt_when(standard error so far)`` true sends the process group SIGINT, as
    Ctrl-C at a terminal does."""
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    environ.update({"TERM": "xterm-256color", "CLOACINA_PROGRESS_DELAY": "0",
                    "COLUMNS": "200"}, **(env or {}))
    out = pty.openpty() if out_tty else os.pipe()
    err = pty.openpty() if err_tty else os.pipe()
    # SIGINT's default disposition, as at a terminal, even where this runs with it
    # ignored (a background job of a shell without job control)
    proc = subprocess.Popen([CLI, *args], stdin=subprocess.DEVNULL, cwd=cwd, env=environ,
                            stdout=out[1], stderr=err[1], process_group=0,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(out[1])
    os.close(err[1])
    got = {out[0]: bytearray(), err[0]: bytearray()}
    try:
        _collect(proc, got, err[0], interrupt_when, time.monotonic() + timeout)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
        os.close(out[0])
        os.close(err[0])
    return Ran(code, _text(got[out[0]]), _text(got[err[0]]))


def _collect(proc: subprocess.Popen, got: dict[int, bytearray], err: int,
             interrupt_when: Callable[[str], bool] | None, deadline: float) -> None:
    """Read every stream to its end (a pty whose other end closed reads EIO)."""
    sent = interrupt_when is None
    while time.monotonic() < deadline:
        open_ = [fd for fd, data in got.items() if not data.endswith(EOF_MARK)]
        if not open_:
            return
        ready, _, _ = select.select(open_, [], [], 0.1)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            got[fd] += chunk or EOF_MARK
        if not sent and interrupt_when(_text(got[err])):  # type: ignore[misc]
            os.killpg(proc.pid, signal.SIGINT)
            sent = True


def _text(data: bytearray) -> str:
    return bytes(data).removesuffix(EOF_MARK).decode("utf-8", "replace").replace("\r\n", "\n")
