"""Retry policies at run time: a declared policy completed with the runtime's defaults, the
pause before each retry, and which failures are retried."""

from __future__ import annotations

import random
from dataclasses import fields

from ..model import Backoff, Retry, RetryCondition

DEFAULT_RETRY = Retry(attempts=0, backoff=Backoff.EXPONENTIAL, delay_ms=1000,
                      max_delay_ms=30000, condition=RetryCondition.ALL, jitter=False)
TRANSIENT = (TimeoutError, ConnectionError, InterruptedError, BlockingIOError)
_FIELDS = tuple(f.name for f in fields(Retry))


def effective_retry(declared: Retry) -> Retry:
    """The policy a task runs with: what it declared, the runtime's default for the rest."""
    return Retry(**{name: getattr(DEFAULT_RETRY, name) if getattr(declared, name) is None
                    else getattr(declared, name) for name in _FIELDS})


def retry_delay(retry: Retry, attempt: int, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based).

    Unset fields take the runtime's defaults, except ``max_delay_ms``: ``None`` is no cap
    (pass the policy through :func:`effective_retry` for the default cap)."""
    delay = float(retry.delay_ms if retry.delay_ms is not None else 1000)
    backoff = retry.backoff or Backoff.EXPONENTIAL
    if backoff == Backoff.LINEAR:
        delay *= attempt
    elif backoff == Backoff.EXPONENTIAL:
        delay *= 2 ** (attempt - 1)
    if retry.jitter:
        delay *= rng.uniform(0.75, 1.25)
    if retry.max_delay_ms is not None:
        delay = min(delay, retry.max_delay_ms)
    return delay / 1000.0


def should_retry(retry: Retry, exc: BaseException) -> bool:
    condition = retry.condition or RetryCondition.ALL
    if condition == RetryCondition.NEVER:
        return False
    if condition == RetryCondition.TRANSIENT:
        return isinstance(exc, TRANSIENT) or bool(getattr(exc, "transient", False))
    return isinstance(exc, Exception)
