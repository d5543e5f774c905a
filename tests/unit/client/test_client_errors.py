"""Error mapping: every body shape of polaris-api.md section 10, classes, text, secrets."""

from __future__ import annotations

import pickle

import httpx
import pytest
from polaris_client_harness import API_KEY, PROJECT, FakeServer, Harness, make_config

from airflow_provider_polaris.client import (
    PolarisApiError,
    PolarisAuthError,
    PolarisBadRequestError,
    PolarisConflictError,
    PolarisNotFoundError,
    PolarisRateLimitError,
    PolarisServerError,
    PolarisTransportError,
    RetryPolicy,
)
from airflow_provider_polaris.client.errors import error_class_for, safe_url

NO_RETRY = make_config(retry=RetryPolicy.no_retries())


@pytest.mark.parametrize(
    ("response", "code", "message", "target"),
    [
        (
            httpx.Response(
                400,
                json={
                    "code": "BadArgument",
                    "message": "bad mapping",
                    "target": "mappings[0]",
                    "details": [],
                    "innererror": {"code": "X"},
                },
            ),
            "BadArgument",
            "bad mapping",
            "mappings[0]",
        ),
        (
            httpx.Response(
                409, json={"error": {"code": "AlreadyExists", "message": "table exists"}}
            ),
            "AlreadyExists",
            "table exists",
            None,
        ),
        (httpx.Response(400, json={"error": "plain string"}), None, "plain string", None),
        (
            httpx.Response(
                400,
                json={
                    "error": "druidException",
                    "errorCode": "invalidInput",
                    "errorMessage": "Column x not found",
                    "category": "INVALID_INPUT",
                    "persona": "USER",
                },
            ),
            "invalidInput",
            "Column x not found",
            None,
        ),
        (
            httpx.Response(400, json={"code": 400, "message": "Unable to process JSON"}),
            "400",
            "Unable to process JSON",
            None,
        ),
        (
            httpx.Response(401, json={"message": "Token claims invalid"}),
            None,
            "Token claims invalid",
            None,
        ),
        (
            httpx.Response(502, text="upstream exploded", headers={"content-type": "text/plain"}),
            None,
            "upstream exploded",
            None,
        ),
        (
            httpx.Response(
                503,
                text="<html><head><title>503 Service Unavailable</title></head><p>x</p></html>",
                headers={"content-type": "text/html"},
            ),
            None,
            "503 Service Unavailable",
            None,
        ),
        (httpx.Response(500), None, "Internal Server Error", None),
        (httpx.Response(404, json={"innererror": {"message": "deep"}}), None, "deep", None),
        (
            httpx.Response(401, json={"error": "invalid_client", "error_description": "Bad"}),
            "invalid_client",
            "Bad",
            None,
        ),
        (  # section 9: an async (deep-storage) query failure nests a Druid SqlErrorResponse
            httpx.Response(
                400,
                json={
                    "taskId": "query-7f1c",
                    "state": "FAILED",
                    "error": {
                        "error": "druidException",
                        "errorCode": "invalidInput",
                        "errorMessage": "Column 'x' not found in any table",
                        "category": "INVALID_INPUT",
                        "persona": "USER",
                    },
                },
            ),
            "invalidInput",
            "Column 'x' not found in any table",
            None,
        ),
        (  # section 10's order: body.message before body.error.message
            httpx.Response(
                409,
                json={
                    "code": "Conflict",
                    "message": "outer message",
                    "error": {"code": "AlreadyExists", "message": "inner message"},
                },
            ),
            "Conflict",
            "outer message",
            None,
        ),
        (  # ... body.error.message before body.errorMessage
            httpx.Response(
                400, json={"error": {"message": "inner", "target": "t"}, "errorMessage": "flat"}
            ),
            None,
            "inner",
            "t",
        ),
        (  # ... body.error as a string before the raw text
            httpx.Response(400, json={"error": "Bad name", "code": "BadArgument"}),
            "BadArgument",
            "Bad name",
            None,
        ),
    ],
)
def test_every_error_body_shape(
    harness: Harness,
    server: FakeServer,
    response: httpx.Response,
    code: str | None,
    message: str,
    target: str | None,
) -> None:
    # A fresh copy per run: the parametrized response is shared by the sync and async runs.
    server.queue(
        httpx.Response(response.status_code, content=response.content, headers=response.headers)
    )
    with pytest.raises(PolarisApiError) as info:
        harness.call(lambda c: c.jobs.get("j1"), NO_RETRY)
    error = info.value
    assert isinstance(error, error_class_for(response.status_code))
    assert (error.status_code, error.code, error.message, error.target) == (
        response.status_code,
        code,
        message,
        target,
    )
    assert error.method == "GET"
    assert error.url.endswith(f"/v1/projects/{PROJECT}/jobs/j1")


def test_error_text(harness: Harness, server: FakeServer) -> None:
    server.queue(
        httpx.Response(
            400, json={"code": "BadArgument", "message": "needs __time", "target": "mappings[0]"}
        )
    )
    with pytest.raises(PolarisBadRequestError) as info:
        harness.call(lambda c: c.jobs.create({"type": "batch"}))
    assert str(info.value) == (
        f"POST /v1/projects/{PROJECT}/jobs -> 400 BadArgument: needs __time (target: mappings[0])"
    )
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)


def test_error_url_drops_query_and_credentials(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(400, json={"message": "bad"}))
    with pytest.raises(PolarisBadRequestError) as info:
        harness.call(lambda c: c.jobs.list(search_string="token=abc"))
    assert "token" not in info.value.url and "?" not in info.value.url
    assert safe_url("https://u:p@h:8080/a?access_token=s#f") == "https://h:8080/a"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, PolarisBadRequestError),
        (401, PolarisAuthError),
        (403, PolarisAuthError),
        (404, PolarisNotFoundError),
        (409, PolarisConflictError),
        (429, PolarisRateLimitError),
        (500, PolarisServerError),
        (503, PolarisServerError),
        (415, PolarisApiError),
    ],
)
def test_error_classes(status: int, cls: type[PolarisApiError]) -> None:
    assert error_class_for(status) is cls


def test_errors_pickle() -> None:
    error = PolarisConflictError(409, "Conflict", "stale version", None, "PUT", "http://h/x", 2.0)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is PolarisConflictError and str(clone) == str(error)
    assert clone.retry_after == 2.0
    transport = PolarisTransportError("ConnectError: refused", "GET", "http://h/x?k=v")
    clone_t = pickle.loads(pickle.dumps(transport))
    assert str(clone_t) == str(transport) == "GET /x: ConnectError: refused"


def test_invalid_json_on_success_is_an_api_error(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(200, text="not json"))
    with pytest.raises(PolarisApiError, match="InvalidResponse"):
        harness.call(lambda c: c.jobs.get("j1"))
