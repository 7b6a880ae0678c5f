"""Declared workflow params at run time: checked against the run's input and defaulted."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ..errors import UsageError
from ..model import Param, ParamType

_PY_TYPES: dict[ParamType, tuple[type, ...]] = {
    ParamType.STR: (str,), ParamType.INT: (int,), ParamType.FLOAT: (int, float),
    ParamType.BOOL: (bool,), ParamType.LIST: (list,), ParamType.DICT: (dict,)}


class ParamError(UsageError):
    code = "param"


def apply_params(params: Iterable[Param], given: dict[str, Any]) -> dict[str, Any]:
    """Check declared params against the input and fill defaults; raises ParamError."""
    context = copy.deepcopy(given)
    problems = []
    for param in params:
        name, kind = param.name, param.type
        if name not in context:
            if param.required:
                problems.append(f"required param '{name}' ({kind}) is missing")
                continue
            context[name] = copy.deepcopy(param.default)
            continue
        value = context[name]
        ok = isinstance(value, _PY_TYPES[kind]) and not (
            kind in (ParamType.INT, ParamType.FLOAT) and isinstance(value, bool))
        if not ok:
            problems.append(f"param '{name}' must be a {kind}, not {type(value).__name__} "
                            f"{value!r}")
    if problems:
        raise ParamError("; ".join(problems), hint="pass the params in --context as JSON, "
                         'e.g. --context \'{"region": "eu"}\'')
    return context
