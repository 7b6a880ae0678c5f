"""Packages whose names load from their modules when first asked for (PEP 562), so that
importing one name does not import every module of the package."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, homes: dict[str, list[str]], namespace: dict[str, Any]
                 ) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``homes`` (module: names)
    is imported from its module on first use and kept in ``namespace`` (the package's
    ``globals()``); any other name is an ``AttributeError``."""
    home = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{home[name]}", package), name)
        namespace[name] = value
        return value

    return __getattr__
