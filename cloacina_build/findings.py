"""Findings: what a check reports, with a stable code, a severity and a location."""

from __future__ import annotations

from dataclasses import dataclass

from .model.enums import Severity

ERROR = Severity.ERROR
WARNING = Severity.WARNING
SEVERITIES = tuple(Severity)

# When a set, every finding code made is added to it (the test suite checks them all
# against the registry in codes.py).
SEEN_CODES: set[str] | None = None


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    location: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.severity, Severity):  # a plain "error"/"warning" string
            object.__setattr__(self, "severity", Severity(self.severity))
        if SEEN_CODES is not None:
            SEEN_CODES.add(self.code)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{self.severity.value}[{self.code}] {where}{self.message}"

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "location": self.location,
            "message": self.message,
        }


def error(code: str, message: str, location: str | None = None) -> Finding:
    return Finding(code, Severity.ERROR, message, location)


def warning(code: str, message: str, location: str | None = None) -> Finding:
    return Finding(code, Severity.WARNING, message, location)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
