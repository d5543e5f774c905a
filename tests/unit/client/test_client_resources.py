"""Every endpoint's wire shape, pagination, uploads, events and queries, sync and async."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from polaris_client_harness import BASE, PROJECT, PROJECT_URL, FakeServer, Harness, make_config

from airflow_provider_polaris.client import (
    AsyncPolarisClient,
    PolarisClient,
    PolarisServerError,
    PushResult,
    RateLimitInfo,
)

Case = tuple[Callable[[Any], Any], str, str, object]

CASES: dict[str, Case] = {
    "projects.list": (lambda c: c.projects.list(), "GET", f"{BASE}/v1/projects", None),
    "projects.get": (lambda c: c.projects.get(), "GET", f"{BASE}/v1/projects/{PROJECT}", None),
    "projects.create": (
        lambda c: c.projects.create({"metadata": {"name": "p2"}, "spec": {"plan": "a.01"}}),
        "POST",
        f"{BASE}/v1/projects",
        {"metadata": {"name": "p2"}, "spec": {"plan": "a.01"}},
    ),
    "projects.update": (
        lambda c: c.projects.update("p 2", {"spec": {"desiredState": "paused"}}),
        "PATCH",
        f"{BASE}/v1/projects/p%202",
        {"spec": {"desiredState": "paused"}},
    ),
    "projects.delete": (
        lambda c: c.projects.delete("p2"),
        "DELETE",
        f"{BASE}/v1/projects/p2",
        None,
    ),
    "jobs.update": (
        lambda c: c.jobs.update("j1", "canceled"),
        "PUT",
        "/jobs/j1",
        {"desiredExecutionStatus": "canceled"},
    ),
    "query.submit_statement": (
        lambda c: c.query.submit_statement(
            'SELECT * FROM "t" WHERE city = ?',
            parameters=[{"type": "VARCHAR", "value": "Paris"}],
            context={"executionMode": "ASYNC", "selectDestination": "durableStorage"},
            result_format="array",
            header=True,
        ),
        "POST",
        "/query/sql/statements",
        {
            "query": 'SELECT * FROM "t" WHERE city = ?',
            "resultFormat": "array",
            "parameters": [{"type": "VARCHAR", "value": "Paris"}],
            "context": {"executionMode": "ASYNC", "selectDestination": "durableStorage"},
            "header": True,
        },
    ),
    "query.submit_statement-defaults": (
        lambda c: c.query.submit_statement("SELECT 1"),
        "POST",
        "/query/sql/statements",
        {"query": "SELECT 1"},
    ),
    "query.get_statement": (
        lambda c: c.query.get_statement("q/1"),
        "GET",
        "/query/sql/statements/q%2F1",
        None,
    ),
    "query.get_statement-detail": (
        lambda c: c.query.get_statement("q1", detail=True),
        "GET",
        "/query/sql/statements/q1?detail=true",
        None,
    ),
    "query.get_statement_results": (
        lambda c: c.query.get_statement_results("q1", page=2, result_format="object"),
        "GET",
        "/query/sql/statements/q1/results?page=2&resultFormat=object",
        None,
    ),
    "query.cancel_statement": (
        lambda c: c.query.cancel_statement("q1"),
        "DELETE",
        "/query/sql/statements/q1",
        None,
    ),
    "jobs.create": (lambda c: c.jobs.create({"type": "sql"}), "POST", "/jobs", {"type": "sql"}),
    "jobs.get": (lambda c: c.jobs.get("j1"), "GET", "/jobs/j1", None),
    "jobs.get_status": (lambda c: c.jobs.get_status("j1"), "GET", "/jobs/j1/status", None),
    "jobs.set_status": (
        lambda c: c.jobs.set_status("j1", "suspended"),
        "POST",
        "/jobs/j1/status",
        {"desiredExecutionStatus": "suspended"},
    ),
    "jobs.cancel": (
        lambda c: c.jobs.cancel("j1"),
        "POST",
        "/jobs/j1/status",
        {"desiredExecutionStatus": "canceled"},
    ),
    "jobs.suspend": (
        lambda c: c.jobs.suspend("j1"),
        "POST",
        "/jobs/j1/status",
        {"desiredExecutionStatus": "suspended"},
    ),
    "jobs.resume": (
        lambda c: c.jobs.resume("j1"),
        "POST",
        "/jobs/j1/status",
        {"desiredExecutionStatus": "running"},
    ),
    "jobs.get_progress": (lambda c: c.jobs.get_progress("j1"), "GET", "/jobs/j1/progress", None),
    "jobs.get_metrics": (lambda c: c.jobs.get_metrics("j1"), "GET", "/jobs/j1/metrics", None),
    "jobs.get_logs": (lambda c: c.jobs.get_logs("j1"), "GET", "/jobs/j1/logs", None),
    "jobs.reset": (lambda c: c.jobs.reset("j1"), "POST", "/jobs/j1/reset", None),
    "connections.create": (
        lambda c: c.connections.create({"type": "push_streaming", "name": "c1"}),
        "POST",
        "/connections",
        {"type": "push_streaming", "name": "c1"},
    ),
    "connections.get": (lambda c: c.connections.get("c1"), "GET", "/connections/c1", None),
    "connections.list": (lambda c: c.connections.list(), "GET", "/connections", None),
    "connections.update": (
        lambda c: c.connections.update(
            "c1", {"type": "kafka", "secrets": {"type": "sasl_plain", "username": "u"}}
        ),
        "PATCH",
        "/connections/c1",
        {"type": "kafka", "secrets": {"type": "sasl_plain", "username": "u"}},
    ),
    "connections.delete": (lambda c: c.connections.delete("c1"), "DELETE", "/connections/c1", None),
    "connections.test": (lambda c: c.connections.test("c1"), "POST", "/connections/c1/test", None),
    "connections.get_meta": (lambda c: c.connections.get_meta(), "GET", "/connectionsMeta", None),
    "tables.create": (
        lambda c: c.tables.create({"name": "Koalas Rollup", "type": "aggregate"}),
        "POST",
        "/tables",
        {"name": "Koalas Rollup", "type": "aggregate"},
    ),
    "tables.get": (lambda c: c.tables.get("Koalas Rollup"), "GET", "/tables/Koalas%20Rollup", None),
    "tables.list": (lambda c: c.tables.list(), "GET", "/tables", None),
    "tables.update": (
        lambda c: c.tables.update("t", {"name": "t", "version": 3}),
        "PUT",
        "/tables/t",
        {"name": "t", "version": 3},
    ),
    "tables.list_unused_segments": (
        lambda c: c.tables.list_unused_segments("t", limit=5, last_segment_id="s9"),
        "GET",
        "/tables/t/unusedSegments?limit=5&lastSegmentId=s9",
        None,
    ),
    "files.list": (
        lambda c: c.files.list(limit=10, search_string="kttm"),
        "GET",
        "/files?paginationLimit=10&searchString=kttm",
        None,
    ),
    "files.get": (lambda c: c.files.get("dir/a b.json"), "GET", "/files/dir%2Fa%20b.json", None),
    "files.delete": (lambda c: c.files.delete("é.json"), "DELETE", "/files/%C3%A9.json", None),
}


def _respond(request: httpx.Request) -> httpx.Response:
    if request.method == "DELETE" and "/files/" in request.url.path:
        return httpx.Response(204)
    if request.method == "DELETE" and "/statements/" in request.url.path:
        return httpx.Response(202)
    if request.url.path.endswith("/reset"):
        return httpx.Response(200)
    if request.method == "GET" and request.url.path.endswith(
        ("/projects", "/connections", "/tables")
    ):
        return httpx.Response(200, json={"values": [{"name": "x"}]})
    return httpx.Response(200, json={"ok": True})


@pytest.mark.parametrize("name", sorted(CASES))
def test_endpoint_wire_shape(harness: Harness, server: FakeServer, name: str) -> None:
    fn, method, where, body = CASES[name]
    server.default = _respond
    result = harness.call(fn)
    (request,) = server.requests
    url = where if where.startswith("http") else f"{PROJECT_URL}{where}"
    assert request.method == method
    assert str(request.url) == url
    if body is None:
        assert request.content == b""
    else:
        assert json.loads(request.content) == body
        assert request.headers["content-type"] == "application/json"
    if name.endswith((".delete", ".reset", ".cancel_statement")):
        assert result is None
    elif name.endswith(".list") and not name.startswith("files"):
        assert result == [{"name": "x"}]
    else:
        assert result == {"ok": True}


def test_projects_list_accepts_a_bare_array(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, json=[{"metadata": {"uid": "p1"}}]))
    assert harness.call(lambda c: c.projects.list()) == [{"metadata": {"uid": "p1"}}]


# Every documented regional endpoint (polaris-api.md sections 1-10) has a method; docs/client.md
# lists the ones left out and why.
METHODS = {
    "projects": {"list", "get", "create", "update", "delete"},
    "jobs": {
        *("create", "get", "list", "iter_all", "update", "get_status", "set_status"),
        *("cancel", "suspend", "resume", "get_progress", "get_metrics", "get_logs", "reset"),
    },
    "connections": {"create", "get", "list", "update", "delete", "test", "get_meta"},
    "tables": {"create", "get", "list", "update", "list_unused_segments"},
    "files": {"upload", "list", "iter_all", "get", "delete"},
    "events": {"push"},
    "query": {
        *("sql", "submit_statement", "get_statement", "get_statement_results"),
        *("iter_statement_results", "cancel_statement"),
    },
}


def test_sync_and_async_clients_expose_the_same_methods() -> None:
    config = make_config()
    sync, aio = PolarisClient(config), AsyncPolarisClient(config)
    for namespace, methods in METHODS.items():
        sync_ns, async_ns = getattr(sync, namespace), getattr(aio, namespace)
        assert type(sync_ns) is type(async_ns)
        public = {n for n in dir(type(sync_ns)) if not n.startswith("_") and n != "config"}
        assert public == methods, namespace
        for name in public:
            assert getattr(sync_ns, name).__name__ == getattr(async_ns, name).__name__ == name
            assert getattr(sync_ns, name).__doc__, f"{namespace}.{name} has no docstring"
    assert sync.jobs.get.__doc__ and "GET /jobs/{jobId}" in sync.jobs.get.__doc__
    sync.close()


def test_timeouts_and_headers_on_every_request(harness: Harness, server: FakeServer) -> None:
    harness.call(lambda c: c.jobs.get("j"), make_config(connect_timeout=3, read_timeout=45))
    (request,) = server.requests
    # No pool timeout: the client queues requests itself (see test_client_concurrency).
    assert request.extensions["timeout"] == {"connect": 3, "read": 45, "write": 45, "pool": None}


def test_job_list_repeats_list_filters(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, json={"values": [], "moreResultsAvailable": False}))
    harness.call(
        lambda c: c.jobs.list(
            type="batch",
            execution_status=["pending", "running"],
            health_status=("ok", "warn"),
            connection_name=["c1"],
            target_table_name="Koalas Rollup",
            target_table_id="tid",
            search_string="x",
            sort_column="created_date_time",
            sort_order="ASC",
            limit=50,
            offset=100,
        )
    )
    params = server.requests[0].url.params
    assert params.get_list("executionStatus") == ["pending", "running"]
    assert params.get_list("healthStatus") == ["ok", "warn"]
    assert params.get_list("type") == ["batch"]
    assert params["connectionName"] == "c1"
    assert params["targetTableName"] == "Koalas Rollup"
    assert params["targetTableId"] == "tid"
    assert params["searchString"] == "x"
    assert params["sortColumn"] == "created_date_time" and params["sortOrder"] == "ASC"
    assert params["paginationLimit"] == "50" and params["paginationOffset"] == "100"


def test_jobs_iter_all_walks_three_pages(harness: Harness, server: FakeServer) -> None:
    pages = [
        {"values": [{"id": "1"}, {"id": "2"}], "moreResultsAvailable": True},
        {"values": [{"id": "3"}, {"id": "4"}], "moreResultsAvailable": True},
        {"values": [{"id": "5"}], "moreResultsAvailable": False},
    ]
    server.queue(*(httpx.Response(200, json=p) for p in pages))
    jobs = harness.call(
        lambda c: c.jobs.iter_all(execution_status=["pending", "running"], page_size=2)
    )
    assert [j["id"] for j in jobs] == ["1", "2", "3", "4", "5"]
    assert len(server.requests) == 3
    for offset, request in zip((0, 2, 4), server.requests, strict=True):
        params = request.url.params
        assert params.get_list("executionStatus") == ["pending", "running"]
        assert params["paginationLimit"] == "2"
        assert params["paginationOffset"] == str(offset)


def test_jobs_iter_all_is_lazy() -> None:
    harness = Harness("sync")
    harness.server.default = lambda r: httpx.Response(
        200, json={"values": [{"id": "x"}], "moreResultsAvailable": True}
    )
    with harness.client() as client:
        iterator: Iterator[dict[str, Any]] = client.jobs.iter_all()
        assert harness.server.requests == []
        next(iterator)
        next(iterator)
    assert len(harness.server.requests) == 2


def test_iter_all_validates_page_size() -> None:
    with PolarisClient(make_config()) as client, pytest.raises(ValueError, match="page_size"):
        client.jobs.iter_all(page_size=5000)


def test_files_iter_all_uses_total_count(harness: Harness, server: FakeServer) -> None:
    server.queue(
        httpx.Response(200, json={"files": [{"name": "a"}, {"name": "b"}], "totalCount": 3}),
        httpx.Response(200, json={"files": [{"name": "c"}], "totalCount": 3}),
    )
    files = harness.call(lambda c: c.files.iter_all(page_size=2))
    assert [f["name"] for f in files] == ["a", "b", "c"]
    assert [r.url.params["paginationOffset"] for r in server.requests] == ["0", "2"]


def test_file_upload_multipart(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(201, json={"name": "dir/kttm.json.gz"}))
    data = io.BytesIO(b'{"a":1}\n' * 10)
    result = harness.call(
        lambda c: c.files.upload(
            "dir/kttm.json.gz", data, data_format="nd-json", compression_format="gz"
        )
    )
    assert result == {"name": "dir/kttm.json.gz"}
    (request,) = server.requests
    assert str(request.url) == f"{PROJECT_URL}/files?dataFormat=nd-json&compressionFormat=gz"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'Content-Disposition: form-data; name="file"; filename="dir/kttm.json.gz"' in body
    assert b'{"a":1}\n' * 10 in body


class ChunkRecordingFile(io.RawIOBase):
    """A large seekable file that records how much each read asked for."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0
        self.reads: list[int] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n < 0 else min(n, self.size - self.pos)
        self.reads.append(n)
        self.pos += n
        return b"x" * n


class StreamingTransport(httpx.BaseTransport):
    """Consumes the request body chunk by chunk, like a socket would, without joining it."""

    def __init__(self) -> None:
        self.total = 0
        self.largest_chunk = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        for chunk in request.stream:
            self.total += len(chunk)
            self.largest_chunk = max(self.largest_chunk, len(chunk))
        return httpx.Response(201, json={"name": "big"})


def test_file_upload_is_streamed_not_buffered() -> None:
    size = 8 * 1024 * 1024
    big = ChunkRecordingFile(size)
    transport = StreamingTransport()
    with PolarisClient(make_config(), transport=transport) as client:
        client.files.upload("big.bin", big)  # type: ignore[arg-type]
    assert transport.total > size
    assert max(big.reads) <= 64 * 1024
    assert transport.largest_chunk <= 64 * 1024 + 1024


def test_seekable_upload_is_resent_whole_after_429(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(201, json={}))
    data = io.BytesIO(b"payload-bytes")
    harness.call(lambda c: c.files.upload("f.json", data))
    assert len(server.requests) == 2
    assert all(b"payload-bytes" in r.content for r in server.requests)


class Pipe(io.RawIOBase):
    """A non-seekable stream."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self.buffer.read(n)


def test_non_seekable_upload_is_not_resent_after_429(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(Exception, match="429"):
        harness.call(lambda c: c.files.upload("f.json", Pipe(b"data")))
    assert len(server.requests) == 1


def test_upload_not_resent_after_500(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(500))
    with pytest.raises(PolarisServerError):
        harness.call(lambda c: c.files.upload("f.json", io.BytesIO(b"d")))
    assert len(server.requests) == 1


RATE_HEADERS = {
    "RateLimit-Limit": "83334",
    "RateLimit-Remaining": "83000",
    "RateLimit-Reset": "42",
}


def test_events_push_plain(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, headers=RATE_HEADERS))
    payload = b'{"__time":"2024-01-01T00:00:00Z","v":1}\n{"__time":"2024-01-01T00:00:01Z"}\n'
    result = harness.call(lambda c: c.events.push("my conn", payload))
    assert result == PushResult(200, RateLimitInfo(83334, 83000, 42.0))
    (request,) = server.requests
    assert str(request.url) == f"{PROJECT_URL}/events/my%20conn"
    assert request.content == payload
    assert request.headers["content-type"] == "application/json"
    assert "content-encoding" not in request.headers


def test_events_push_gzip_and_legacy_rate_headers(harness: Harness, server: FakeServer) -> None:
    server.queue(
        httpx.Response(
            202,
            headers={"X-RateLimit-Limit-Minute": "600", "X-RateLimit-Remaining-Minute": "599"},
        )
    )
    payload = b'{"v":1}\n' * 100
    result = harness.call(lambda c: c.events.push("c", payload, gzip=True))
    assert result == PushResult(202, RateLimitInfo(600, 599, None))
    (request,) = server.requests
    assert request.headers["content-encoding"] == "gzip"
    assert gzip.decompress(request.content) == payload


def test_events_push_retried_on_429_only(harness: Harness, server: FakeServer) -> None:
    server.queue(
        httpx.Response(429, json={"message": "API rate limit exceeded"}, headers=RATE_HEADERS),
        httpx.Response(200),
    )
    harness.call(lambda c: c.events.push("c", b"{}"))
    assert harness.clock.sleeps == [42.0]
    server.queue(httpx.Response(503))
    with pytest.raises(PolarisServerError):
        harness.call(lambda c: c.events.push("c", b"{}"))
    assert len(server.requests) == 3


def test_rate_limit_draft_header_form() -> None:
    info = RateLimitInfo.from_headers(
        httpx.Headers({"RateLimit-Limit": "100, 100;w=60", "RateLimit-Remaining": "bad"})
    )
    assert info == RateLimitInfo(100, None, None)


def test_query_object_format(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, json=[{"n": 3}]))
    rows = harness.call(
        lambda c: c.query.sql(
            'SELECT COUNT(*) AS "n" FROM "t" WHERE city = ?',
            parameters=[{"type": "VARCHAR", "value": "Paris"}],
            context={"sqlQueryId": "q1"},
        )
    )
    assert rows == [{"n": 3}]
    assert json.loads(server.requests[0].content) == {
        "query": 'SELECT COUNT(*) AS "n" FROM "t" WHERE city = ?',
        "resultFormat": "object",
        "parameters": [{"type": "VARCHAR", "value": "Paris"}],
        "context": {"sqlQueryId": "q1"},
    }
    assert str(server.requests[0].url) == f"{PROJECT_URL}/query/sql"


def test_query_array_with_headers(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, json=[["n"], ["LONG"], ["BIGINT"], [3]]))
    rows = harness.call(
        lambda c: c.query.sql(
            "SELECT 3", result_format="array", header=True, types_header=True, sql_types_header=True
        )
    )
    assert rows[-1] == [3]
    body = json.loads(server.requests[0].content)
    assert body["header"] and body["typesHeader"] and body["sqlTypesHeader"]


@pytest.mark.parametrize("fmt", ["csv", "objectLines", "arrayLines"])
def test_query_text_formats(harness: Harness, server: FakeServer, fmt: str) -> None:
    server.queue(httpx.Response(200, text="n\n3\n", headers={"content-type": "text/csv"}))
    assert harness.call(lambda c: c.query.sql("SELECT 3", result_format=fmt)) == "n\n3\n"


def test_query_rejects_unknown_format() -> None:
    with PolarisClient(make_config()) as client, pytest.raises(ValueError, match="result_format"):
        client.query.sql("SELECT 1", result_format="xml")


def _finished(pages: list[dict[str, Any]] | None) -> dict[str, Any]:
    result: dict[str, Any] = {"numTotalRows": 3}
    if pages is not None:
        result["pages"] = pages
    return {"queryId": "q1", "state": "SUCCESS", "result": result}


def test_iter_statement_results_walks_every_page(harness: Harness, server: FakeServer) -> None:
    pages = [{"id": 0, "numRows": 2, "sizeInBytes": 40}, {"id": 1, "numRows": 1}]
    server.queue(
        httpx.Response(200, json=[{"n": 1}, {"n": 2}]),
        httpx.Response(200, json=[{"n": 3}]),
    )
    rows = harness.call(lambda c: c.query.iter_statement_results(_finished(pages)))
    assert rows == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [str(r.url) for r in server.requests] == [
        f"{PROJECT_URL}/query/sql/statements/q1/results?page=0",
        f"{PROJECT_URL}/query/sql/statements/q1/results?page=1",
    ]


def test_iter_statement_results_without_page_ids(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, json=[["a", 1]]))
    rows = harness.call(
        lambda c: c.query.iter_statement_results(_finished(None), result_format="array")
    )
    assert rows == [["a", 1]]
    (request,) = server.requests
    assert str(request.url) == f"{PROJECT_URL}/query/sql/statements/q1/results?resultFormat=array"


@pytest.mark.parametrize(
    ("status", "match"),
    [
        ({"queryId": "q1", "state": "RUNNING"}, "'RUNNING'.*SUCCESS"),
        ({"state": "SUCCESS"}, "queryId"),
    ],
)
def test_iter_statement_results_needs_a_finished_status(status: dict[str, Any], match: str) -> None:
    with PolarisClient(make_config()) as client, pytest.raises(ValueError, match=match):
        client.query.iter_statement_results(status)


def test_statement_results_text_format(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, text="a,b\n1,2\n", headers={"content-type": "text/csv"}))
    text = harness.call(lambda c: c.query.get_statement_results("q1", result_format="csv"))
    assert text == "a,b\n1,2\n"


def test_submit_statement_is_not_resent_after_it_may_have_arrived(
    harness: Harness, server: FakeServer
) -> None:
    server.queue(httpx.Response(503))
    with pytest.raises(PolarisServerError):
        harness.call(lambda c: c.query.submit_statement("SELECT 1"))
    assert len(server.requests) == 1


def test_jobs_update_is_retried(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(503), httpx.Response(200, json={"id": "j1"}))
    assert harness.call(lambda c: c.jobs.update("j1", "canceled")) == {"id": "j1"}
    assert [r.method for r in server.requests] == ["PUT", "PUT"]
