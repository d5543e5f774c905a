"""Sending one batch: wait for the pacer, send, and retry 429s, 5xx and network errors.

:class:`Delivery` is the push's retry policy for one request at a time per sender. It never
raises for a failed request: it answers ``None`` (accepted), :data:`NOT_SENT` (the push stopped
first: nothing is sent after an abort) or a :class:`Failure` (failed for good). Every wait for
the rate limit (this request's 429s, another sender's pause, a spent budget) counts toward
``max_rate_limit_wait_seconds``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_polaris.events._options import PushOptions
from airflow_provider_polaris.events._pacing import Pacer
from airflow_provider_polaris.events._report import PushReport

log = logging.getLogger(__name__)


@dataclass
class Failure:
    """Why a batch was not delivered; ``cause`` is the error when a retry would get it again
    (a 4xx other than 408 and 429: a wrong key, a missing connection)."""

    error: str
    cause: BaseException | None = None


#: The answer when the push stopped before the batch could be sent.
NOT_SENT = Failure("not sent: the push stopped")


def describe(exc: BaseException) -> str:
    """``Type: message``, as the report and the log show an error."""
    return f"{type(exc).__name__}: {exc}"


def classify(exc: BaseException) -> str:
    """``rate_limited``, ``retryable`` (5xx, 408, network: may have reached the server) or
    ``fatal``."""
    import httpx

    from airflow_provider_polaris.client import PolarisApiError, PolarisTransportError

    if isinstance(exc, PolarisApiError):
        if exc.status_code == 429:
            return "rate_limited"
        if exc.status_code == 408 or exc.status_code >= 500:
            return "retryable"
        return "fatal"
    if isinstance(exc, (PolarisTransportError, OSError, httpx.TransportError)):
        return "retryable"
    return "fatal"


@dataclass
class _Tries:
    retries: int = 0
    waited: float = 0.0  # seconds waited for the rate limit


@dataclass(eq=False)
class Delivery:
    """Sends payloads with ``call`` when ``pacer`` allows (see the module); ``pause`` sleeps
    (shorter when the push stops) and ``stopped`` says whether the push was aborted."""

    _call: Callable[[bytes], Awaitable[Any]]
    _pacer: Pacer
    _options: PushOptions
    _report: PushReport
    _pause: Callable[[float], Awaitable[None]]
    _stopped: Callable[[], bool]

    async def __call__(self, payload: bytes) -> Failure | None:
        """Deliver ``payload``: ``None`` when accepted, else why not (see the module)."""
        tries = _Tries()
        while True:
            failure = await self._wait_turn(tries)
            if failure is not None:
                return failure
            self._report.requests += 1
            try:
                result = await self._call(payload)
            except Exception as exc:
                failure = await self._failed(exc, tries)
                if failure is None:
                    continue  # retry
                return failure
            except BaseException:  # the send itself was interrupted: free its pacer slot
                self._pacer.failed()
                raise
            rate_limit = getattr(result, "rate_limit", None)
            self._pacer.observe(
                getattr(rate_limit, "remaining", None),
                getattr(rate_limit, "reset_seconds", None),
                getattr(rate_limit, "limit", None),
            )
            return None

    async def _wait_turn(self, tries: _Tries) -> Failure | None:
        """Wait until the pacer allows a request. Asked again after every wait: a pause or a
        spent budget learnt meanwhile applies."""
        limit = self._options.max_rate_limit_wait_seconds
        while True:
            if self._stopped():
                return NOT_SENT
            wait, limited = self._pacer.reserve_or_wait()
            if wait <= 0:
                return None
            if limited:
                if tries.waited >= limit:
                    return Failure(
                        f"waited {tries.waited:.1f}s for the rate limit (max_rate_limit_wait_"
                        f"seconds={limit:g}) without being allowed to send"
                    )
                wait = min(wait, limit - tries.waited)
                tries.waited += wait
            await self._pause(wait)

    async def _failed(self, exc: Exception, tries: _Tries) -> Failure | None:
        """After a failed request: ``None`` to send again, else why the batch failed."""
        opts = self._options
        kind = classify(exc)
        if kind == "rate_limited":
            asked = self._pacer.rate_limited(getattr(exc, "retry_after", None))
            self._report.rate_limited += 1
            if self._stopped():
                return NOT_SENT
            limit = opts.max_rate_limit_wait_seconds
            if tries.waited + asked > limit:
                return Failure(
                    f"rate-limited: the server asks to wait {asked:.1f}s more, after "
                    f"{tries.waited:.1f}s of waiting for the rate limit, beyond "
                    f"max_rate_limit_wait_seconds={limit:g}: {describe(exc)}"
                )
            return None  # the pacer's pause is waited in _wait_turn (and counted)
        self._pacer.failed()
        if kind == "retryable" and tries.retries < opts.max_retries and not self._stopped():
            tries.retries += 1
            self._report.retries += 1
            delay = min(
                opts.backoff_max_seconds, opts.backoff_base_seconds * 2 ** (tries.retries - 1)
            )
            log.warning(
                "push request failed (%s); retry %d in %.1fs", describe(exc), tries.retries, delay
            )
            await self._pause(delay)
            return None
        return Failure(describe(exc), exc if kind == "fatal" else None)
