"""One error hierarchy for the library; the CLI maps each class to an exit code.

Every error carries a stable ``code`` (a short slug), a one-line ``message`` and a
``hint`` that says what to do (when the raiser gives none: ``HINTS`` by code, else the
class's ``default_hint``).  Nothing else escapes the library for a user mistake: the CLI
prints ``error: <message>`` and the hint, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .findings import Finding

# When a set, every error code raised is added to it (see findings.SEEN_CODES).
SEEN_CODES: set[str] | None = None

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # 128 + SIGPIPE: the reader of the output went away (| head), as coreutils
EXIT_TERMINATED = 143  # 128 + SIGTERM


class CloacinaError(Exception):
    """Base class: something the user can act on."""

    exit_code = EXIT_FAILED
    code = "error"
    #: The hint when the raiser gives none and ``HINTS`` has none for the code: every
    #: error tells a person what to do next.
    default_hint = "run the command again with --help to see what it expects"

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
        if code is not None:
            self.code = code
        self.hint = hint or HINTS.get(self.code) or self.default_hint
        self.findings = list(findings or [])
        if SEEN_CODES is not None:
            SEEN_CODES.add(self.code)

    def diagnostics(self, shown: Callable[[str], str] = str) -> str:
        """The message, the individual findings and the hint, for people, one line each;
        ``shown`` is applied to each piece before they are joined (the CLI passes
        ``printable``, so that a line break inside a finding's text, which may quote a
        package, cannot start a line of its own)."""
        lines = [shown(self.message)]
        for finding in self.findings:
            lines.append(f"  {shown(finding.render())}")
        if self.hint:
            lines.append(f"hint: {shown(self.hint)}")
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
    default_hint = "run 'cloacinactl COMMAND --help' to see the arguments and options"


class ProjectError(CloacinaError):
    """The workflow project is wrong: configuration, tasks or graph (exit 1)."""

    code = "project"
    default_hint = "run 'cloacinactl validate PROJECT_DIR' to see every problem"


class BuildError(CloacinaError):
    """The payload build (PEP 517 backend, cargo) failed (exit 1)."""

    code = "build"
    default_hint = ("run the build by hand in the project directory (python -m build, or "
                    "cargo build --release) to see its whole output")


class PackageError(CloacinaError):
    """A .cloacina archive is malformed, hostile or fails a check (exit 1)."""

    code = "package"
    default_hint = "run 'cloacinactl validate FILE' to see every problem"


_VALIDATE = "run 'cloacinactl validate FILE' to see every problem"

#: Hints by code, for errors raised without one (a code's own hint beats its class's).
HINTS: dict[str, str] = {
    "archive-not-zstd": "is it a .cloacina package? 'cloacinactl package PROJECT_DIR' "
                        "builds one",
    "archive-truncated": "the file is incomplete (an interrupted copy or download?): copy "
                         "it again, then run 'cloacinactl validate FILE'",
    "invalid": _VALIDATE,
    "manifest-refused": "this is a bug in cloacina-build: please report it with the "
                        "project that caused it",
    "os-error": "check that the path exists and that you may read (or write) it",
    "exists": "pass --force to replace it, or choose another output path",
    "rollback": "a newer version was accepted before; --allow-rollback accepts this one "
                "once",
    "param": "pass the workflow's params in --context; 'cloacinactl inspect FILE' lists "
             "them",
    "load-native": "native (Rust) packages are run by the engine; 'cloacinactl validate "
                   "FILE' checks them",
    "requires-python": "run it with a Python that satisfies the package's requires-python "
                       "('cloacinactl inspect FILE' shows it)",
    "import-failed": "run the workflow's tests ('pytest' in the project) to see why its "
                     "modules do not import",
    "cloaca-missing": "run it in the engine, or in an environment with the real cloaca "
                      "package installed",
    "load-refused": "the cached copy is damaged or changed: remove the cache directory "
                    "(--cache-dir or CLOACINA_CACHE_DIR) and run again",
    "drift": "rebuild the package with 'cloacinactl package' so the manifest matches the "
             "code",
}


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
