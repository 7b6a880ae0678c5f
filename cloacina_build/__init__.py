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
    "build_package": "build.builder",
    "BuildResult": "build.builder",
    "open_package": "format.package",
    "stream_members": "format.package",
    "Package": "format.package",
    "inspect_package": "ops.inspect",
    "validate_package": "ops.validate",
    "validate_project": "ops.validate",
    "validate_path": "ops.validate",
    "ensure_valid": "ops.validate",
    "verify_package": "ops.validate",
    "TrustPolicy": "trust.policy",
    "TrustStore": "trust.store",
    "load_trust": "trust.store",
    "generate_key": "trust.keys",
    "load_signing_key": "trust.keys",
    "sign_package": "ops.signing",
    "sign_detached": "ops.signing",
    "load_package": "runtime.loader",
    "LoadedPackage": "runtime.loader",
    "DriftError": "runtime.loader",
    "run_workflow": "testing",
    "ValidationPolicy": "ops.validate",
    "ValidationReport": "ops.validate",
    "Limits": "format.limits",
    "DEFAULT_LIMITS": "format.limits",
    "Finding": "findings",
    "load_project": "project.config",
    "fingerprint_source": "project.fingerprint",
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
