"""Projects, connections, tables and files."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, streaming_spec, upload

SASL = {"type": "sasl_plain", "username": "u", "password": "p"}
VALID_CONNECTIONS: list[dict[str, Any]] = [
    {"type": "kafka", "name": "k", "bootstrapServers": "b:9092", "topicName": "t", "secrets": SASL},
    {
        "type": "kafka",
        "name": "k2",
        "bootstrapServers": "b:9092",
        "topicName": "t",
        "secrets": {
            "type": "sasl_scram",
            "mechanism": "SCRAM-SHA-512",
            "username": "u",
            "password": "p",
        },
    },
    {
        "type": "confluent",
        "name": "c",
        "bootstrapServers": "b:9092",
        "topicName": "t",
        "secrets": SASL,
    },
    {
        "type": "kinesis",
        "name": "kin",
        "stream": "s",
        "awsEndpoint": "kinesis.us-east-1.amazonaws.com",
        "awsAssumedRoleArn": "arn:aws:iam::1:role/r",
    },
    {
        "type": "s3",
        "name": "s3",
        "bucket": "b",
        "awsEndpoint": "s3.us-east-1.amazonaws.com",
        "awsAssumedRoleArn": "arn:aws:iam::1:role/r",
    },
    {
        "type": "azure",
        "name": "az",
        "storageAccount": "a",
        "container": "c",
        "secrets": {"type": "sas_token", "sasToken": "?sv=1"},
    },
    {
        "type": "confluent_schema_registry",
        "name": "sr",
        "urls": ["https://sr"],
        "secrets": {"type": "basic", "username": "u", "password": "p"},
    },
    {"type": "push_streaming", "name": "push"},
]


def test_projects(api: httpx.Client, emu: PolarisEmulator) -> None:
    projects = httpx.get(f"{emu.base_url}/v1/projects", auth=(emu.api_key, "")).json()
    assert isinstance(projects, list) and projects[0]["metadata"]["uid"] == emu.project_id
    project = httpx.get(f"{emu.base_url}/v1/projects/{emu.project_id}", auth=(emu.api_key, ""))
    assert project.json()["status"]["state"] == "running"


def test_project_create_update_delete(emu: PolarisEmulator) -> None:
    with httpx.Client(base_url=f"{emu.base_url}/v1", auth=(emu.api_key, "")) as regional:
        _project_lifecycle(emu, regional)


def _project_lifecycle(emu: PolarisEmulator, regional: httpx.Client) -> None:
    body = {
        "metadata": {"name": "Docs project"},
        "spec": {"plan": "a.01", "region": "us-east-1", "deletionProtection": True},
    }
    created = regional.post("/projects", json=body)
    assert created.status_code == 202  # Polaris' spec: provisioning is asynchronous
    project = created.json()
    uid = project["metadata"]["uid"]
    assert created.headers["location"] == f"{emu.base_url}/v1/projects/{uid}"
    assert project["metadata"]["createdOnTimestamp"].endswith("Z")
    assert project["spec"] == {
        "plan": "a.01",
        "desiredState": "running",
        "deletionProtection": True,
        "stopProtection": False,
        "region": "us-east-1",
    }
    assert project["status"]["state"] == "running" and project["status"]["currentBytes"] == 0
    assert regional.get(f"/projects/{uid}").json() == project
    assert regional.get(f"/projects/{uid}/jobs").status_code == 404  # a record, not served
    stopped = regional.patch(
        f"/projects/{uid}",
        json={"metadata": {"name": "Renamed"}, "spec": {"desiredState": "stopped"}},
    )
    assert stopped.status_code == 202
    assert stopped.json()["metadata"]["name"] == "Renamed"
    assert stopped.json()["status"]["state"] == "stopped"
    protected = regional.delete(f"/projects/{uid}")
    assert protected.status_code == 400 and protected.json()["target"] == "projectId"
    regional.patch(f"/projects/{uid}", json={"spec": {"deletionProtection": False}})
    assert regional.delete(f"/projects/{uid}").status_code == 202
    assert regional.get(f"/projects/{uid}").status_code == 404
    assert regional.delete(f"/projects/{uid}").status_code == 404
    assert regional.patch("/projects/none", json={}).status_code == 404
    served = regional.delete(f"/projects/{emu.project_id}")
    assert served.status_code == 400
    guarded = regional.post(
        "/projects",
        json={
            "metadata": {"name": "Guarded"},
            "spec": {"plan": "a.01", "region": "eastus", "stopProtection": True},
        },
    ).json()["metadata"]["uid"]
    no_stop = regional.patch(f"/projects/{guarded}", json={"spec": {"desiredState": "stopped"}})
    assert no_stop.status_code == 400 and no_stop.json()["target"] == "spec.desiredState"
    moved = regional.patch(f"/projects/{guarded}", json={"spec": {"region": "westus2"}})
    assert moved.status_code == 400 and moved.json()["target"] == "spec.region"
    for bad_body, target in (
        ({"metadata": {"name": ""}, "spec": {"plan": "a", "region": "eastus"}}, "metadata.name"),
        ({"metadata": {"name": "x"}, "spec": {"region": "eastus"}}, "spec.plan"),
        ({"metadata": {"name": "x"}, "spec": {"plan": "a", "region": "moon"}}, "spec.region"),
        (
            {
                "metadata": {"name": "x"},
                "spec": {"plan": "a", "region": "eastus", "desiredState": "on"},
            },
            "spec.desiredState",
        ),
        ({"metadata": "x"}, "metadata"),
    ):
        response = regional.post("/projects", json=bad_body)
        assert response.status_code == 400 and response.json()["target"] == target, bad_body
    spec = {"plan": "a.01", "region": "eastus"}
    while len(regional.get("/projects").json()) < 25:
        assert regional.post("/projects", json={"metadata": {"name": "n"}, "spec": spec}).is_success
    full = regional.post("/projects", json={"metadata": {"name": "26th"}, "spec": spec})
    assert full.status_code == 400 and "25" in full.json()["message"]
    emu.reset()
    assert [p["metadata"]["uid"] for p in regional.get("/projects").json()] == [emu.project_id]


@pytest.mark.parametrize("body", VALID_CONNECTIONS, ids=lambda b: b["name"])
def test_create_each_connection_type_never_returns_secrets(
    api: httpx.Client, body: dict[str, Any]
) -> None:
    response = api.post("/connections", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"].endswith(f"/connections/{body['name']}")
    for got in (response.json(), api.get(f"/connections/{body['name']}").json()):
        if "secrets" in body:
            assert got["secrets"] == {"type": body["secrets"]["type"]}
        else:
            assert "secrets" not in got
        assert "password" not in str(got) and "sasToken" not in str(got)
        assert got["submittedByUser"]["username"]
    if body["type"] == "push_streaming":
        assert response.json()["endpointUrl"].endswith("/events/push")


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"type": "mqtt", "name": "x"}, "type"),
        ({"type": "kafka", "name": "x", "topicName": "t", "secrets": SASL}, "bootstrapServers"),
        ({"type": "kafka", "name": "x", "bootstrapServers": "b", "topicName": "t"}, "secrets"),
        (
            {
                "type": "kafka",
                "name": "x",
                "bootstrapServers": "b",
                "topicName": "t",
                "secrets": {"type": "basic", "username": "u", "password": "p"},
            },
            "secrets.type",
        ),
        (
            {
                "type": "kafka",
                "name": "x",
                "bootstrapServers": "b",
                "topicName": "t",
                "secrets": {"type": "sasl_plain", "username": "u"},
            },
            "secrets.password",
        ),
        ({"type": "push_streaming", "name": "x", "secrets": SASL}, "secrets"),
        ({"type": "push_streaming", "name": "bad name!"}, "name"),
        ({"type": "push_streaming", "name": "x" * 65}, "name"),
        ({"type": "confluent_schema_registry", "name": "x", "urls": [], "secrets": SASL}, "urls"),
        ({"type": "azure", "name": "x", "storageAccount": "a", "container": "c"}, "secrets"),
        (
            {
                "type": "s3",
                "name": "x",
                "bucket": "b",
                "awsEndpoint": "e",
                "secrets": {"type": "access_key", "accessKeyId": "", "accessKeySecret": "s"},
            },
            "secrets.accessKeyId",
        ),
        (
            {
                "type": "s3",
                "name": "x",
                "bucket": "b",
                "awsEndpoint": "e",
                "secrets": {"type": "access_key", "accessKeyId": "id"},
            },
            "secrets.accessKeySecret",
        ),
        ({"type": "s3", "name": "x", "bucket": "b", "awsEndpoint": "e"}, "awsAssumedRoleArn"),
        ({"type": "kinesis", "name": "x", "stream": "s", "awsEndpoint": "e"}, "awsAssumedRoleArn"),
    ],
)
def test_connection_validation(api: httpx.Client, body: dict[str, Any], target: str) -> None:
    response = api.post("/connections", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["target"] == target


def test_connection_duplicate_patch_delete_test_meta(api: httpx.Client) -> None:
    body = VALID_CONNECTIONS[0]
    assert api.post("/connections", json=body).status_code == 201
    duplicate = api.post("/connections", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "AlreadyExists"
    assert api.patch("/connections/k", json={"topicName": "other"}).json()["target"] == "type"
    assert api.patch("/connections/k", json={"type": "s3"}).status_code == 400
    patched = api.patch(
        "/connections/k",
        json={
            "type": "kafka",
            "topicName": "other",
            "secrets": {"type": "aws_iam", "awsAssumedRoleArn": "arn:x"},
        },
    )
    assert patched.status_code == 200
    assert patched.json()["topicName"] == "other" and patched.json()["secrets"] == {
        "type": "aws_iam"
    }
    assert api.post("/connections/k/test").status_code == 200
    assert [c["name"] for c in api.get("/connections").json()["values"]] == ["k"]
    assert api.delete("/connections/k").status_code == 200
    for call in (api.get, api.delete):
        assert call("/connections/k").status_code == 404
    assert api.patch("/connections/k", json={"type": "kafka"}).status_code == 404
    assert api.post("/connections/k/test").status_code == 404
    meta = api.get("/connectionsMeta").json()
    assert meta["externalId"] and meta["implyArn"].startswith("arn:aws:iam::")


def test_kafka_ssl_keystore_credentials_are_never_returned(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    ssl = {
        "keystore": {
            "type": "pem",
            "certificates": "CERTCHAIN",
            "key": "PRIVKEY",
            "keyPassword": "KEYPW",
        },
        "truststore": {"type": "pem", "certificates": "CACERT"},
    }
    body = {**VALID_CONNECTIONS[0], "ssl": ssl}
    created = api.post("/connections", json=body)
    assert created.status_code == 201
    patched = api.patch("/connections/k", json={"type": "kafka", "topicName": "other"})
    listed = api.get("/connections").json()["values"][0]
    for shown in (created.json(), api.get("/connections/k").json(), patched.json(), listed):
        assert "PRIVKEY" not in str(shown) and "KEYPW" not in str(shown)
        assert shown["ssl"] == {
            "keystore": {"type": "pem", "certificates": "CERTCHAIN"},
            "truststore": {"type": "pem", "certificates": "CACERT"},
        }
    kept = emu.state.connections["k"]["ssl"]["keystore"]  # stored for the connection's use
    assert (kept["key"], kept["keyPassword"]) == ("PRIVKEY", "KEYPW")
    bad = api.post("/connections", json={**VALID_CONNECTIONS[0], "name": "k3", "ssl": "yes"})
    assert bad.status_code == 400 and bad.json()["target"] == "ssl"


def test_connection_in_use_cannot_be_deleted(api: httpx.Client) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    create_job(api, streaming_spec())
    assert api.delete("/connections/push").status_code == 400


def test_tables_create_get_list_put_with_versions(api: httpx.Client) -> None:
    body = {
        "name": "Koalas Rollup",
        "type": "aggregate",
        "partitioningGranularity": "hour",
        "schema": [
            {"name": "city", "dataType": "string"},
            {"type": "measure", "name": "n", "dataType": "long"},
        ],
    }
    response = api.post("/tables", json=body)
    assert response.status_code == 201 and response.headers["location"]
    table = response.json()
    assert table["version"] == 0 and table["availability"] == "available" and table["id"]
    assert api.post("/tables", json=body).status_code == 409
    got = api.get("/tables/Koalas Rollup").json()
    assert got["schema"][0]["type"] == "dimension" and got["queryableSchema"][0]["name"] == "__time"
    assert [t["name"] for t in api.get("/tables").json()["values"]] == ["Koalas Rollup"]
    assert api.get("/tables", params={"partitioningGranularity": "day"}).json()["values"] == []
    update = {**body, "version": 0, "description": "rolled up"}
    updated = api.put("/tables/Koalas Rollup", json=update)
    assert updated.status_code == 200 and updated.json()["version"] == 1
    stale = api.put("/tables/Koalas Rollup", json=update)
    assert stale.status_code == 409 and stale.json()["target"] == "version"
    assert api.put("/tables/Koalas Rollup", json=body).json()["target"] == "version"
    assert api.put("/tables/none", json=update).status_code == 404
    assert api.get("/tables/none").status_code == 404


def test_list_tables_filters(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    create_job(api, batch_spec("loaded"))  # day partitioning, one day of rows
    api.post("/tables", json={"name": "empty", "type": "detail", "partitioningGranularity": "hour"})
    emu.advance(5)

    def names(**params: Any) -> list[str]:
        response = api.get("/tables", params=params)
        assert response.status_code == 200, response.text
        return sorted(t["name"] for t in response.json()["values"])

    assert names() == ["empty", "loaded"]
    assert names(segmentCount=1) == ["loaded"]
    assert names(segmentCount=0) == ["empty"]
    assert names(segmentCount=7) == []
    assert names(partitioningGranularity=["hour", "day"]) == ["empty", "loaded"]
    assert names(partitioningGranularity="hour", segmentCount=0) == ["empty"]
    for params, target in (
        ({"segmentCount": "many"}, "segmentCount"),
        ({"segmentCount": "-1"}, "segmentCount"),
        ({"partitioningGranularity": "fortnight"}, "partitioningGranularity"),
    ):
        response = api.get("/tables", params=params)
        assert response.status_code == 400 and response.json()["target"] == target


def test_unused_segments_page_shape_and_checks(api: httpx.Client) -> None:
    api.post("/tables", json={"name": "Koalas Rollup", "type": "detail"})
    path = "/tables/Koalas Rollup/unusedSegments"
    assert api.get(path).json() == {"values": []}
    page = api.get(
        path,
        params={
            "interval": "2024-01-01/2024-02-01",
            "limit": 10,
            "lastSegmentId": "Koalas Rollup_2024-01-01_v1",
            "sortOrder": "DESC",
        },
    )
    assert page.status_code == 200 and page.json() == {"values": []}
    assert api.get("/tables/none/unusedSegments").status_code == 404
    for params, target in (
        ({"interval": "2024-02-01/2024-01-01"}, "interval"),
        ({"limit": 0}, "limit"),
        ({"sortOrder": "sideways"}, "sortOrder"),
    ):
        response = api.get(path, params=params)
        assert response.status_code == 400 and response.json()["target"] == target


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"name": " x", "type": "detail"}, "name"),
        ({"name": ".x", "type": "detail"}, "name"),
        ({"name": "a/b", "type": "detail"}, "name"),
        ({"name": "x\u0001", "type": "detail"}, "name"),
        ({"name": "x" * 256, "type": "detail"}, "name"),
        ({"name": "x", "type": "rollup"}, "type"),
        (
            {"name": "x", "type": "detail", "partitioningGranularity": "week"},
            "partitioningGranularity",
        ),
        ({"name": "x", "type": "detail", "schemaMode": "loose"}, "schemaMode"),
        (
            {"name": "x", "type": "detail", "schema": [{"name": "a", "dataType": "text"}]},
            "schema[0].dataType",
        ),
    ],
)
def test_table_validation(api: httpx.Client, body: dict[str, Any], target: str) -> None:
    response = api.post("/tables", json=body)
    assert response.status_code == 400 and response.json()["target"] == target


def test_files_upload_list_get_delete(api: httpx.Client) -> None:
    content = b'{"a":1}\n'
    uploaded = upload(api, "dir/sub/data.json.gz", content)
    assert uploaded.status_code == 200
    meta = uploaded.json()
    assert meta["digest"] == {"algo": "md5", "hash": hashlib.md5(content).hexdigest()}
    assert (
        meta["sizeBytes"] == len(content)
        and meta["compressionFormat"] == "gz"
        and meta["dataFormat"] == "nd-json"
    )
    assert upload(api, "dir/sub/data.json.gz").status_code == 409
    bin_part = api.post(
        "/files", files={"bin": ("other.csv", b"a,b\n")}, params={"dataFormat": "csv"}
    )
    assert bin_part.status_code == 200 and bin_part.json()["dataFormat"] == "csv"
    assert api.post("/files", json={"a": 1}).status_code == 415
    assert api.get("/files/dir/sub/data.json.gz").json()["name"] == "dir/sub/data.json.gz"
    listing = api.get("/files", params={"paginationLimit": 1}).json()
    assert listing["totalCount"] == 2 and len(listing["files"]) == 1
    assert listing["links"]["@nextLink"] and listing["links"]["@prevLink"] is None
    assert listing["space"]["usedBytes"] == len(content) + 4
    assert [
        f["name"] for f in api.get("/files", params={"searchString": "OTHER"}).json()["files"]
    ] == ["other.csv"]
    by_size = api.get("/files", params={"sortColumn": "size_bytes", "sortOrder": "DESC"}).json()[
        "files"
    ]
    assert [f["name"] for f in by_size] == ["dir/sub/data.json.gz", "other.csv"]
    assert api.delete("/files/dir/sub/data.json.gz").status_code == 204
    assert api.get("/files/dir/sub/data.json.gz").status_code == 404
    assert api.delete("/files/dir/sub/data.json.gz").status_code == 404
