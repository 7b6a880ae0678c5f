"""Import a package's modules privately, so that packages never see each other.

Each loaded package gets a :class:`PackageImporter`: its modules live in the importer's own
table, never in ``sys.modules``, and every module it loads gets a private ``__builtins__``
whose ``__import__`` resolves the package's own top-level names (and ``cloaca``) from that
table, at import time and at run time alike.  Anything else (the standard library, the
host's third-party packages) is imported normally.  Two packages, or two versions of one
package, that both have a module named ``tasks`` load side by side.

Limits (see docs/loader.md): ``importlib.import_module`` and ``sys.modules`` look-ups inside
packaged code see the host, not the package; pickling by reference does not find packaged
classes; compiled extension modules are loaded through the normal machinery and cannot be
isolated; this is isolation of names, not a security sandbox.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import importlib.util
import sys
import threading
import types
from pathlib import Path
from typing import Any

_real_import = builtins.__import__


def host_can_import(name: str) -> bool:
    """Whether the host resolves the top-level ``name`` to a module or a regular package
    (found, never imported).  A namespace package is not counted: a regular module or
    package anywhere on the path wins over it, as ``sys.path.append`` would have it."""
    if name in sys.builtin_module_names:
        return True
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return name in sys.modules
    return spec is not None and spec.origin is not None and spec.origin != "namespace"


class PackageImporter:
    """The private importer of one package over its ``roots`` (searched in order).

    ``host_first``: the engine's ``sys.path.append`` semantics (engine archives): a
    top-level name the host can already import (the standard library, the host's
    site-packages) resolves to the host's module, not to the package's copy, except the
    names in ``keep`` (the entry module's top-level name, which the engine's loader evicts
    and prunes from other roots so that the package's own wins)."""

    def __init__(self, roots: list[Path], provided: dict[str, types.ModuleType] | None = None,
                 label: str = "package", *, host_first: bool = False,
                 keep: frozenset[str] = frozenset()) -> None:
        self.roots = [Path(r) for r in roots]
        self.provided = dict(provided or {})
        self.label = label
        self.modules: dict[str, types.ModuleType] = {}
        self._lock = threading.RLock()
        self.own = self._top_level_names()
        if host_first:
            self.own = {n for n in self.own if n in keep or not host_can_import(n)}
        self.builtins: dict[str, Any] = dict(builtins.__dict__)
        self.builtins["__import__"] = self._import

    def _top_level_names(self) -> set[str]:
        names: set[str] = set()
        for root in self.roots:
            if not root.is_dir():
                continue
            for entry in root.iterdir():
                if entry.name.startswith((".", "__")) or entry.name.endswith(
                        (".dist-info", ".data")):
                    continue
                if entry.is_dir() and entry.name.isidentifier():
                    names.add(entry.name)
                elif entry.suffix == ".py" and entry.stem.isidentifier():
                    names.add(entry.stem)
                elif entry.suffix in importlib.machinery.EXTENSION_SUFFIXES or \
                        any(entry.name.endswith(s) for s in
                            importlib.machinery.EXTENSION_SUFFIXES):
                    names.add(entry.name.split(".")[0])
        return names

    # ---------------------------------------------------------------- public
    def import_module(self, name: str) -> types.ModuleType:
        top = name.split(".")[0]
        if top in self.provided:
            return self.provided[top]
        if top not in self.own:
            raise ModuleNotFoundError(f"{self.label} has no module {name!r}", name=name)
        return self._load(name)

    def clear(self) -> None:
        with self._lock:
            for module in self.modules.values():
                module.__dict__.clear()
            self.modules.clear()

    # ---------------------------------------------------------------- the hook
    def _import(self, name: str, globals: dict | None = None, locals: Any = None,
                fromlist: tuple = (), level: int = 0):
        absolute = self._resolve(name, globals, level) if level else name
        top = absolute.split(".")[0]
        if top in self.provided:
            return self.provided[top]
        if top not in self.own:
            return _real_import(name, globals, locals, fromlist, level)
        module = self._load(absolute)
        if not fromlist:
            return self.modules[top] if not level else module
        for item in fromlist:
            if item == "*":
                for sub in getattr(module, "__all__", ()):
                    self._maybe_submodule(module, sub)
            else:
                self._maybe_submodule(module, item)
        return module

    def _maybe_submodule(self, module: types.ModuleType, item: str) -> None:
        if hasattr(module, item) or not hasattr(module, "__path__"):
            return
        fullname = f"{module.__name__}.{item}"
        if fullname in self.modules:  # being imported (a cycle): bind what exists
            setattr(module, item, self.modules[fullname])
            return
        try:
            self._load(fullname)
        except ModuleNotFoundError as exc:
            if exc.name != fullname:
                raise  # the submodule exists but its own import failed
            # ``from pkg import name`` where name is not a module: the caller reports

    def _resolve(self, name: str, globals: dict | None, level: int) -> str:
        globals = globals or {}
        package = globals.get("__package__")
        if package is None:
            package = globals.get("__name__", "")
            if "__path__" not in globals:
                package = package.rpartition(".")[0]
        parts = package.split(".") if package else []
        if level - 1 > len(parts) or not package:
            raise ImportError("attempted relative import beyond top-level package")
        base = ".".join(parts[: len(parts) - (level - 1)])
        return f"{base}.{name}" if name else base

    def _load(self, fullname: str) -> types.ModuleType:
        with self._lock:
            if fullname in self.modules:
                return self.modules[fullname]
            parent_name, _, child = fullname.rpartition(".")
            if parent_name:
                parent = self._load(parent_name)
                search = list(getattr(parent, "__path__", []))
                if not search:
                    raise ModuleNotFoundError(f"No module named {fullname!r}; "
                                              f"{parent_name!r} is not a package",
                                              name=fullname)
            else:
                search = [str(r) for r in self.roots]
            parent_module = self.modules[parent_name] if parent_name else None
            return self._create(fullname, child or fullname, search, parent_module)

    def _create(self, fullname: str, short: str, search: list[str],
                parent: types.ModuleType | None) -> types.ModuleType:
        for directory in search:
            base = Path(directory) / short
            if (base / "__init__.py").is_file():
                return self._exec_source(fullname, base / "__init__.py", [str(base)], parent)
            if base.with_suffix(".py").is_file():
                return self._exec_source(fullname, base.with_suffix(".py"), None, parent)
        namespace = [str(Path(d) / short) for d in search if (Path(d) / short).is_dir()]
        if namespace:
            module = types.ModuleType(fullname)
            module.__path__ = namespace
            module.__package__ = fullname
            self._register(fullname, module, parent)
            return module
        spec = importlib.machinery.PathFinder.find_spec(fullname.rpartition(".")[2], search)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} in {self.label}",
                                      name=fullname)
        spec.name = fullname  # a compiled extension: loaded normally, not isolated
        module = importlib.util.module_from_spec(spec)
        self._register(fullname, module, parent)
        spec.loader.exec_module(module)
        return module

    def _register(self, fullname: str, module: types.ModuleType,
                  parent: types.ModuleType | None) -> None:
        """Known before it runs, and bound on its parent: cycles see the partial module,
        never the host's module of the same name."""
        self.modules[fullname] = module
        if parent is not None:
            setattr(parent, fullname.rpartition(".")[2], module)

    def _exec_source(self, fullname: str, path: Path, package_path: list[str] | None,
                     parent: types.ModuleType | None) -> types.ModuleType:
        module = types.ModuleType(fullname)
        module.__file__ = str(path)
        module.__builtins__ = self.builtins  # type: ignore[attr-defined]
        if package_path is not None:
            module.__path__ = package_path
            module.__package__ = fullname
        else:
            module.__package__ = fullname.rpartition(".")[0]
        module.__spec__ = importlib.util.spec_from_file_location(
            fullname, path, submodule_search_locations=package_path)
        self._register(fullname, module, parent)
        try:
            code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
            exec(code, module.__dict__)
        except BaseException:
            del self.modules[fullname]
            if parent is not None and getattr(parent, fullname.rpartition(".")[2], None) \
                    is module:
                delattr(parent, fullname.rpartition(".")[2])
            raise
        return module
