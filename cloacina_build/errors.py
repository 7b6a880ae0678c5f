"""One error hierarchy for the library; the CLI maps each class to an exit code.

Every error carries a stable ``code`` (a short slug), a one-line ``message`` and an
optional ``hint`` that says what to do.  Nothing else escapes the library for a user
mistake: the CLI prints ``error: <message>`` and the hint, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .findings import Finding

# When a set, every error code raised is added to it (see findings.SEEN_CODES).
SEEN_CODES: set[str] | None = None

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM


class CloacinaError(Exception):
    """Base class: something the user can act on."""

    exit_code = EXIT_FAILED
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        findings: list[Finding] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        self.findings = list(findings or [])
        if SEEN_CODES is not None:
            SEEN_CODES.add(self.code)

    def diagnostics(self) -> str:
        """The message, the individual findings and the hint, for people."""
        lines = [self.message]
        for finding in self.findings:
            lines.append(f"  {finding.render()}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        out: dict = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.findings:
            out["findings"] = [f.to_dict() for f in self.findings]
        return out


class UsageError(CloacinaError):
    """Bad arguments or an environment that cannot do the job (exit 2)."""

    exit_code = EXIT_USAGE
    code = "usage"


class ProjectError(CloacinaError):
    """The workflow project is wrong: configuration, tasks or graph (exit 1)."""

    code = "project"


class BuildError(CloacinaError):
    """The payload build (PEP 517 backend, cargo) failed (exit 1)."""

    code = "build"


class PackageError(CloacinaError):
    """A .cloacina archive is malformed, hostile or fails a check (exit 1)."""

    code = "package"


def did_you_mean(word: str, choices: Iterable[str],
                 synonyms: dict[str, str] | None = None) -> str:
    """A ``did you mean 'x'?`` suffix, or an empty string.

    ``synonyms`` maps words people commonly write (``retries``) to the right key.
    """
    choices = sorted(set(choices))
    if synonyms and synonyms.get(word) in choices:
        return f" (did you mean '{synonyms[word]}'?)"
    import difflib  # only when a hint is wanted: keeps every command's start-up short

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
