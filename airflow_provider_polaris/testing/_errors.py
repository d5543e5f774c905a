"""Error responses the emulator sends, in the flat ErrorResponse shape of the Polaris spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ApiError(Exception):
    """An error a handler raises; rendered as ``{"code", "message", "target"?}`` with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}
        self._body = body

    def body(self) -> Any:
        """The JSON body of the response."""
        if self._body is not None:
            return self._body
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            out["target"] = self.target
        return out


def bad(message: str, target: str | None = None) -> ApiError:
    """400 BadArgument naming the offending field."""
    return ApiError(400, "BadArgument", message, target)


def not_found(message: str, target: str | None = None) -> ApiError:
    """404 NotFound."""
    return ApiError(404, "NotFound", message, target)


def found(records: Mapping[str, T], key: str, noun: str, target: str) -> T:
    """``records[key]``, or 404 ``{noun} {key} not found`` naming ``target``."""
    record = records.get(key)
    if record is None:
        raise not_found(f"{noun} {key} not found", target)
    return record


def conflict(message: str, target: str | None = None, *, code: str = "AlreadyExists") -> ApiError:
    """409: a duplicate name (``AlreadyExists``) or a stale version (``Conflict``)."""
    return ApiError(409, code, message, target)
