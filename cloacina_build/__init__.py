"""cloacina-build: build, inspect, validate and load ``.cloacina`` workflow packages.

The public API (what ``cloacinactl`` and a runtime loader call)::

    from cloacina_build import build_package, open_package, inspect_package
    from cloacina_build import validate_package, ValidationPolicy, Limits
    from cloacina_build import sign_package, verify_package, TrustPolicy, load_trust

Heavy modules load on first use, so importing the package stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .__about__ import __version__
from .errors import BuildError, CloacinaError, PackageError, ProjectError, UsageError

_LAZY = {
    "build_package": "builder",
    "BuildResult": "builder",
    "open_package": "package",
    "stream_members": "package",
    "Package": "package",
    "inspect_package": "inspect",
    "validate_package": "validate",
    "validate_project": "validate",
    "validate_path": "validate",
    "ensure_valid": "validate",
    "verify_package": "validate",
    "TrustPolicy": "verify",
    "TrustStore": "trust",
    "load_trust": "trust",
    "generate_key": "keys",
    "load_signing_key": "keys",
    "sign_package": "signing",
    "sign_detached": "signing",
    "load_package": "loader",
    "LoadedPackage": "loader",
    "DriftError": "loader",
    "run_workflow": "testing",
    "ValidationPolicy": "validate",
    "ValidationReport": "validate",
    "Limits": "limits",
    "DEFAULT_LIMITS": "limits",
    "Finding": "findings",
    "load_project": "project",
    "fingerprint_source": "fingerprint",
}

__all__ = ["__version__", "CloacinaError", "UsageError", "ProjectError", "BuildError",
           "PackageError", *_LAZY]


_RENAMED = {"generate_key": "generate"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cloacina_build' has no attribute {name!r}")
