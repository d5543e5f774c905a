"""Table and file set-up operators against the emulator."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.operators.files import PolarisUploadFilesOperator
from airflow_provider_polaris.operators.tables import PolarisCreateTableOperator
from airflow_provider_polaris.sensors.tables import PolarisTableSensor

DETAIL = {
    "name": "clicks",
    "type": "detail",
    "schemaMode": "strict",
    "partitioningGranularity": "day",
    "schema": [
        {"name": "__time", "dataType": "timestamp"},
        {"name": "city", "dataType": "string"},
    ],
    "storagePolicy": {"retain": {"type": "period", "period": "P90D"}},
}
AGGREGATE = {
    "name": "clicks_hourly",
    "type": "aggregate",
    "schema_mode": "flexible",
    "time_resolution": "hour",
    "partitioning_granularity": "day",
    "schema": [
        {"type": "dimension", "name": "city", "dataType": "string"},
        {"type": "measure", "name": "count", "dataType": "long"},
    ],
}


def create(table: dict[str, Any], if_exists: str = "ignore") -> dict[str, Any]:
    op = PolarisCreateTableOperator(task_id="t", table=table, if_exists=if_exists)  # type: ignore[arg-type]
    return op.execute(context={})  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", [DETAIL, AGGREGATE], ids=["detail", "aggregate"])
def test_create_ignore_update_fail(
    spec: dict[str, Any], polaris_emulator: Any, client: Any
) -> None:
    assert create(spec)["action"] == "created"
    table = client.tables.get(spec["name"])
    assert table["type"] == spec["type"] and table["version"] == 0

    wider = {**spec, "schema": [*spec["schema"], {"name": "country", "dataType": "string"}]}
    if spec["type"] == "aggregate":
        wider["schema"][-1]["type"] = "dimension"
    ignored = create(wider)
    assert ignored["action"] == "exists"
    assert ignored["differences"] == ["schema: column 'country' is missing in Polaris"]

    updated = create(wider, "update")
    assert updated["action"] == "updated" and updated["version"] == 1
    names = [c["name"] for c in client.tables.get(spec["name"])["schema"]]
    assert "country" in names
    puts = [e for e in polaris_emulator.request_log() if e["method"] == "PUT"]
    assert len(puts) == 1

    with pytest.raises(AirflowFailException, match="already exists"):
        create(spec, "fail")


@pytest.mark.parametrize("spec", [DETAIL, AGGREGATE], ids=["detail", "aggregate"])
def test_update_sends_nothing_when_the_table_already_matches(
    spec: dict[str, Any], polaris_emulator: Any, client: Any
) -> None:
    create(spec)
    result = create(spec, "update")
    assert result["action"] == "unchanged" and result["differences"] == []
    assert result["version"] == 0 == client.tables.get(spec["name"])["version"]
    assert polaris_emulator.count_requests("PUT", r"/tables/.*") == 0


def test_columns_left_out_of_the_spec_are_differences(polaris_emulator: Any) -> None:
    create(DETAIL)
    narrower = {**DETAIL, "schema": [{"name": "__time", "dataType": "timestamp"}]}
    assert create(narrower)["differences"] == [
        "schema: column 'city' is in Polaris but not in the spec"
    ]
    assert create(narrower, "update")["action"] == "updated"
    assert polaris_emulator.count_requests("PUT", r"/tables/clicks") == 1


def test_update_retries_once_on_a_stale_version(polaris_emulator: Any, client: Any) -> None:
    create(DETAIL)
    polaris_emulator.inject_fault("PUT", "/tables/clicks", status=409, count=1)
    result = create({**DETAIL, "description": "v2"}, "update")
    assert result["action"] == "updated"
    assert polaris_emulator.count_requests("PUT", r"/tables/clicks") == 2
    assert polaris_emulator.count_requests("GET", r"/tables/clicks") == 2  # re-read once
    assert client.tables.get("clicks")["description"] == "v2"

    polaris_emulator.inject_fault("PUT", "/tables/clicks", status=409, count=2)
    with pytest.raises(AirflowFailException, match="version conflict twice"):
        create({**DETAIL, "description": "v3"}, "update")


def test_real_stale_version_from_a_concurrent_writer(polaris_emulator: Any, client: Any) -> None:
    create(DETAIL)
    stale = {**client.tables.get("clicks"), "description": "first"}
    client.tables.update("clicks", stale)
    from airflow_provider_polaris.client import PolarisConflictError

    with pytest.raises(PolarisConflictError):
        client.tables.update("clicks", {**stale, "description": "second"})  # version 0 again


def test_bad_table_spec_is_stopped_before_any_request(polaris_emulator: Any) -> None:
    with pytest.raises(AirflowFailException, match="type"):
        create({"name": "x", "type": "weird"})
    assert polaris_emulator.count_requests(None, r"/tables.*") == 0


def test_table_sensor(polaris_emulator: Any, client: Any) -> None:
    sensor = PolarisTableSensor(task_id="s", table_name="clicks", poke_interval=0.01)
    assert sensor.poke(context={}) is False  # type: ignore[arg-type]
    create(DETAIL)
    assert client.tables.get("clicks")["availability"] == "available"
    assert sensor.poke(context={}) is True  # type: ignore[arg-type]
    strict = PolarisTableSensor(task_id="s", table_name="nope", missing_ok=False)
    with pytest.raises(AirflowFailException):
        strict.poke(context={})  # type: ignore[arg-type]


# -- files ------------------------------------------------------------------------------------


def upload(paths: Any, **kwargs: Any) -> list[str]:
    return PolarisUploadFilesOperator(task_id="u", paths=paths, **kwargs).execute(context={})  # type: ignore[arg-type]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "a.json").write_text('{"__time": "2024-01-01T00:00:00Z", "city": "Paris"}\n')
    (tmp_path / "b.json").write_text('{"__time": "2024-01-01T01:00:00Z", "city": "Oslo"}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_text('{"__time": "2024-01-01T02:00:00Z"}\n')
    (tmp_path / "notes.txt").write_text("ignore me")
    return tmp_path


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_upload_local_paths_globs_and_file_urls(
    polaris_emulator: Any, client: Any, data_dir: Path
) -> None:
    names = upload(
        [str(data_dir / "a.json"), f"{data_dir}/sub/*.json", f"file://{data_dir}/b.json"],
        name_prefix="run1/",
    )
    assert names == ["run1/a.json", "run1/c.json", "run1/b.json"]
    for name, path in zip(names, ["a.json", "sub/c.json", "b.json"], strict=True):
        assert client.files.get(name)["digest"]["hash"] == md5(data_dir / path)
    assert upload(f"file://{data_dir}/*.json") == ["a.json", "b.json"]
    with pytest.raises(FileNotFoundError, match="no file matches"):
        upload(f"{data_dir}/*.parquet")


def test_upload_409_skip_same_replace_fail(
    polaris_emulator: Any, client: Any, data_dir: Path
) -> None:
    path = data_dir / "a.json"
    upload([str(path)])
    assert upload([str(path)]) == ["a.json"]  # same content: skipped
    assert polaris_emulator.count_requests("POST", r"/files") == 2
    path.write_text('{"__time": "2024-01-01T00:00:00Z", "city": "Rome"}\n')
    with pytest.raises(AirflowFailException, match="if_exists='replace'"):
        upload([str(path)])
    assert upload([str(path)], if_exists="replace") == ["a.json"]
    assert client.files.get("a.json")["digest"]["hash"] == md5(path)
    assert polaris_emulator.count_requests("DELETE", r"/files/a\.json") == 1
    with pytest.raises(AirflowFailException, match="if_exists='fail'"):
        upload([str(path)], if_exists="fail")


def test_upload_md5_mismatch_deletes_the_bad_upload(
    polaris_emulator: Any, client: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_polaris.operators import files as files_module

    monkeypatch.setattr(files_module, "md5_of", lambda location: ("0" * 32, 1))
    with pytest.raises(AirflowFailException, match="corrupt"):
        upload([str(data_dir / "a.json")])
    from airflow_provider_polaris.client import PolarisNotFoundError

    with pytest.raises(PolarisNotFoundError):
        client.files.get("a.json")


def test_upload_streams_files(
    polaris_emulator: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_polaris.operators import files as files_module

    big = data_dir / "big.json"
    big.write_bytes(b'{"__time": "2024-01-01T00:00:00Z"}\n' * 200_000)  # ~7 MB
    reads: list[int] = []
    real_open = files_module.open_source

    def tracking_open(location: str) -> Any:
        handle = real_open(location)
        original = handle.read

        def read(size: int = -1) -> bytes:
            reads.append(size)
            return original(size)

        handle.read = read  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(files_module, "open_source", tracking_open)
    assert upload([str(big)]) == ["big.json"]
    assert reads and all(size is not None and 0 < size <= 1024 * 1024 for size in reads)
