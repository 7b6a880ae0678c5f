"""``run --context``: the run's input context, from the command line or a file."""

from __future__ import annotations


def read_context(arg: str | None) -> dict:
    """``--context``: a JSON object, or ``@PATH`` naming a file holding one (strict JSON,
    as package files are read); ``{}`` when not given."""
    from pathlib import Path

    from ..errors import UsageError

    if not arg:
        return {}
    text = arg
    if arg.startswith("@"):
        try:
            text = Path(arg[1:]).read_text("utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the context file {arg[1:]}: {exc.strerror}") \
                from None
    from ..strict_json import strict_json  # the reader package files get: no NaN, no 1e9999

    try:
        value = strict_json(text.encode("utf-8", "surrogatepass"))
    except ValueError as exc:
        raise UsageError(f"--context is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("--context must be a JSON object")
    return value
