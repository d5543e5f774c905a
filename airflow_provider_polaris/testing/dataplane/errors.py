"""Errors raised by the data plane."""

from __future__ import annotations


class SqlError(Exception):
    """A query the emulator rejects, shaped like Druid's SqlErrorResponse.

    ``category`` is one of Druid's categories (``INVALID_INPUT``, ``UNSUPPORTED``,
    ``RUNTIME_FAILURE`` ...); ``error_code`` is Druid's short code (``invalidInput`` ...).
    """

    def __init__(
        self, message: str, category: str = "INVALID_INPUT", error_code: str = "invalidInput"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.error_code = error_code

    def to_response(self) -> dict[str, object]:
        """The Druid SqlErrorResponse body for this error."""
        return {
            "error": "druidException",
            "errorCode": self.error_code,
            "persona": "USER",
            "category": self.category,
            "errorMessage": self.message,
            "context": {},
        }


class ExpressionError(SqlError):
    """An expression or statement that does not parse or validate."""


class UnsupportedError(SqlError):
    """Valid Druid SQL that the emulator does not implement."""

    def __init__(self, message: str) -> None:
        super().__init__(message, category="UNSUPPORTED", error_code="unsupported")


class EvalError(Exception):
    """A row-level evaluation failure (bad cast, bad period ...)."""
