"""Per-event checks done before anything is sent: valid JSON object, time field, time window, size.

Each check returns either the encoded event (bytes, one NDJSON line without the newline) or a
``(reason, detail)`` pair. The checks run once per event on the hot path, so they stay small:
one encode or decode, one timestamp parse, a few comparisons.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

Checked = bytes | tuple[str, str]

_encode_slow = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_fast_encoder() -> Callable[[Any], str]:
    # The C encoder behind json.dumps, called directly: the Python wrappers around it cost about
    # as much as the encoding of a small event. Same output as _encode_slow.
    from json import encoder as json_encoder

    make = getattr(json_encoder, "c_make_encoder", None)
    basestring = getattr(json_encoder, "c_encode_basestring", None)
    if make is None or basestring is None:  # pragma: no cover - non-CPython
        return _encode_slow
    iterencode = make(None, _no_default, basestring, None, ":", ",", False, False, False)

    def encode(value: Any) -> str:
        return "".join(iterencode(value, 0))

    return encode


_encode = _make_fast_encoder()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (Polaris cannot ingest NaN or Infinity)")


# NDJSON lines are decoded with NaN/Infinity refused, as the encoder refuses them in objects
# (json.loads accepts them by default). Built once: json.loads with a hook builds a decoder per
# call.
_decode = json.JSONDecoder(parse_constant=_refuse_constant).decode


def _parse_iso_ms(value: str) -> float | None:
    """Epoch milliseconds of an ISO 8601 timestamp (naive means UTC); None if unparseable."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        text = value.strip()
        if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not accept "Z"
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            try:
                import pendulum

                parsed = pendulum.parse(value)
            except Exception:
                return None
            if not isinstance(parsed, datetime):
                return None
            dt = parsed
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        return dt.timestamp() * 1000.0
    except (OverflowError, ValueError, OSError):  # e.g. year 9999 with a negative offset
        return None


def _short(value: Any) -> str:
    text = str(value) if not isinstance(value, int) or value.bit_length() < 10_000 else "<huge>"
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"


class EventChecker:
    """Checks events against the push limits and the streaming job's acceptance window.

    ``time_field`` must be present in each event: an ISO 8601 string (naive = UTC) or a number of
    epoch milliseconds. Events older than ``late_rejection_period`` or further in the future than
    ``early_rejection_period`` (Polaris streaming defaults: 30 and 2000 days) are rejected, because
    Polaris would skip them without an error. ``None`` disables a bound; ``time_field=None``
    disables the time checks altogether.
    """

    def __init__(
        self,
        *,
        time_field: str | None = "__time",
        late_rejection_period: timedelta | None = timedelta(days=30),
        early_rejection_period: timedelta | None = timedelta(days=2000),
        max_event_bytes: int = 1_000_000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.time_field = time_field
        self.late_ms = (
            late_rejection_period.total_seconds() * 1000.0 if late_rejection_period else None
        )
        self.early_ms = (
            early_rejection_period.total_seconds() * 1000.0 if early_rejection_period else None
        )
        self.max_event_bytes = max_event_bytes
        self.wall_clock = wall_clock
        # The last ISO timestamp parsed and its epoch ms (a one-entry cache).
        self._last_time: str | None = None
        self._last_ms = 0.0

    def check_object(self, event: Any) -> Checked:
        """Check a Python object (normally a dict) and encode it as one compact JSON line.

        The time is checked on the object first (a rejected event is never encoded), then the
        object is encoded once; those bytes are what is sent.
        """
        if type(event) is not dict:
            if not isinstance(event, Mapping):
                kind = type(event).__name__
                return ("not_an_object", f"an event must be a JSON object, got {kind}")
            event = dict(event)
        if self.time_field is not None and (problem := self._check_time(event)) is not None:
            return problem
        try:
            encoded = _encode(event).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            return ("not_serialisable", f"event is not JSON-serialisable: {exc}")
        if len(encoded) > self.max_event_bytes:
            return self._too_large(encoded)
        return encoded

    def check_line(self, line: bytes) -> Checked:
        """Check one NDJSON line (already stripped, not blank); the line itself is what is sent.

        ``NaN``, ``Infinity`` and ``-Infinity`` are refused (``invalid_json``): they are not
        JSON, and the same values in an object are refused as ``not_serialisable``.
        """
        try:
            event = _decode(line.decode())
        except ValueError as exc:  # UnicodeDecodeError included
            return ("invalid_json", f"not valid JSON: {exc}")
        if not isinstance(event, dict):
            return ("not_an_object", f"an event must be a JSON object, got {type(event).__name__}")
        if self.time_field is not None and (problem := self._check_time(event)) is not None:
            return problem
        if len(line) > self.max_event_bytes:
            return self._too_large(line)
        return line

    def check_text(self, line: str) -> Checked:
        """:meth:`check_line` for a ``str`` line (already stripped, not blank)."""
        try:
            encoded = line.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate: not representable in UTF-8
            return ("invalid_json", f"not valid UTF-8 text: {exc}")
        return self.check_line(encoded)

    def _too_large(self, encoded: bytes) -> tuple[str, str]:
        return (
            "too_large",
            f"event is {len(encoded):,} bytes, more than the {self.max_event_bytes:,}-byte "
            "request payload limit",
        )

    def _check_time(self, event: Mapping[str, Any]) -> tuple[str, str] | None:
        field = self.time_field
        value = event.get(field)  # type: ignore[arg-type]  # only called with a time field
        if isinstance(value, str):
            if value == self._last_time:  # consecutive events often share their timestamp
                ms = self._last_ms
            else:
                parsed = _parse_iso_ms(value)
                if parsed is None:
                    return (
                        "bad_time",
                        f"time field {field!r} is not an ISO 8601 timestamp: {value!r}",
                    )
                self._last_time, self._last_ms = value, ms = value, parsed
        elif value is None:
            return ("missing_time", f"missing time field {field!r}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                ms = float(value)
            except OverflowError:  # an int beyond any float: no meaningful time
                return ("bad_time", f"time field {field!r} is out of range: {_short(value)}")
        else:
            return ("bad_time", f"time field {field!r} must be an ISO 8601 string or epoch ms")
        late_ms, early_ms = self.late_ms, self.early_ms
        if late_ms is None and early_ms is None:
            return None
        now_ms = self.wall_clock() * 1000.0
        if late_ms is not None and ms < now_ms - late_ms:
            days = late_ms / 86_400_000
            return ("too_late", f"{field}={value!r} is more than {days:g} days old")
        if early_ms is not None and ms > now_ms + early_ms:
            days = early_ms / 86_400_000
            return ("too_early", f"{field}={value!r} is more than {days:g} days in the future")
        return None
