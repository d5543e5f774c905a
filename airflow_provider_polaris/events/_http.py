"""A minimal HTTP/1.1 client connection over asyncio streams, for the push hot path only.

Why not httpx: measured here, one request through a shared ``httpx.AsyncClient`` costs 1.3-5 ms
of client CPU, raw asyncio streams 0.06-0.085 ms. A push is always the same request (``POST``,
fixed headers, ``Content-Length`` body) answered by a small response, so the protocol subset
needed is small: write one request, read the status line, the headers and a ``Content-Length``,
chunked or read-to-EOF body, and honour ``Connection: close``. One request at a time per
connection (no pipelining). Everything that gives a response meaning (errors, rate limits, auth)
stays in the client package; see ``_transport``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

#: Largest response head accepted (status line + headers); Polaris sends well under 1 kB.
MAX_HEAD_BYTES = 64 * 1024


class HttpProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response."""


@dataclass(frozen=True)
class HttpResponse:
    """One response: ``headers`` has lower-case names (repeated headers joined by ``", "``)."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    will_close: bool


class HttpConnection:
    """One keep-alive connection; ``exchange`` sends a complete request and reads the response."""

    __slots__ = ("_reader", "_writer", "deadline", "timed_out")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        #: Loop time by which the request in progress must be answered (0: idle); see abort().
        self.deadline = 0.0
        self.timed_out = False

    @classmethod
    async def open(
        cls, host: str, port: int, ssl_context: ssl.SSLContext | None, timeout: float
    ) -> HttpConnection:
        """Connect (and handshake TLS when ``ssl_context`` is given) within ``timeout`` seconds."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host,
                port,
                ssl=ssl_context,
                server_hostname=host if ssl_context is not None else None,
                limit=MAX_HEAD_BYTES,
            ),
            timeout,
        )
        return cls(reader, writer)

    @property
    def reusable(self) -> bool:
        """False once the server closed the idle connection (its EOF has been read already)."""
        return not (self._writer.is_closing() or self._reader.at_eof())

    async def exchange(self, request: bytes) -> HttpResponse:
        """Send ``request`` (head and body) and return the response (``1xx`` ones are skipped).

        Raises ``OSError``, ``asyncio.IncompleteReadError`` (EOF, e.g. a dropped connection),
        ``asyncio.LimitOverrunError`` or :class:`HttpProtocolError`; the connection is unusable
        after any of them.
        """
        self._writer.write(request)
        await self._writer.drain()
        reader = self._reader
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            status, reason, headers, keep_alive = _parse_head(head)
            if status >= 200 or status == 101:
                break
        connection = headers.get("connection", "").lower()
        will_close = not keep_alive or "close" in connection
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        elif (length := headers.get("content-length")) is not None:
            try:
                size = int(length)
            except ValueError:
                raise HttpProtocolError(f"bad Content-Length: {length!r}") from None
            body = await reader.readexactly(size) if size else b""
        else:
            body = await reader.read()  # delimited by the end of the connection
            will_close = True
        return HttpResponse(status, reason, headers, body, will_close)

    async def _read_chunked(self) -> bytes:
        reader = self._reader
        parts: list[bytes] = []
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise HttpProtocolError(f"bad chunk size line: {line[:40]!r}") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers: not needed
                return b"".join(parts)
            parts.append((await reader.readexactly(size + 2))[:-2])

    def abort(self, *, timed_out: bool = False) -> None:
        """Close at once; a pending ``exchange`` then fails with an EOF error."""
        self.timed_out = self.timed_out or timed_out
        self._writer.transport.abort()

    def close(self) -> None:
        """Close without waiting (nothing is in flight on an idle connection)."""
        self._writer.close()


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str], bool]:
    """Status, reason, headers and whether the server keeps the connection open by default."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise HttpProtocolError(f"bad status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:-2]:  # the head ends with an empty line, then the split's empty tail
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpProtocolError(f"bad header line: {line[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    keep_alive = version != "HTTP/1.0" or "keep-alive" in headers.get("connection", "").lower()
    return int(code), reason, headers, keep_alive
