"""Findings: what a check reports, with a stable code, a severity and a location."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    location: str | None = None

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{self.severity}[{self.code}] {where}{self.message}"

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "location": self.location,
            "message": self.message,
        }


def error(code: str, message: str, location: str | None = None) -> Finding:
    return Finding(code, ERROR, message, location)


def warning(code: str, message: str, location: str | None = None) -> Finding:
    return Finding(code, WARNING, message, location)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
