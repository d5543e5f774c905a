"""Table specs: name rules, enums, aggregate schema."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_polaris.models import PolarisSpecError, parse_table_spec


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(PolarisSpecError) as info:
        parse_table_spec(data)
    assert str(info.value).startswith("Invalid Polaris table spec")
    return dict(info.value.errors)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "empty"),
        ("x" * 256, "at most 255"),
        (" padded", "space"),
        ("padded ", "space"),
        (".hidden", "'.'"),
        ("a/b", "'/'"),
        ("tab\there", "control character"),
        ("koala \U0001f428", "emoji"),
    ],
)
def test_table_name_rules(name: str, words: str) -> None:
    assert words in problems({"name": name, "type": "detail"})["name"]


def test_table_name_may_have_inner_spaces_and_unicode() -> None:
    assert parse_table_spec({"name": "Koalas Rollup é", "type": "detail"}).name == "Koalas Rollup é"


def test_enums_list_allowed_values() -> None:
    assert "'detail' or 'aggregate'" in problems({"name": "t", "type": "rollup"})["type"]
    message = problems({"name": "t", "type": "detail", "schemaMode": "loose"})["schemaMode"]
    assert "'strict' or 'flexible'" in message
    message = problems({"name": "t", "type": "detail", "partitioningGranularity": "daily"})[
        "partitioningGranularity"
    ]
    assert "'day'" in message


def test_week_rejected_for_new_tables() -> None:
    message = problems({"name": "t", "type": "detail", "partitioningGranularity": "week"})[
        "partitioningGranularity"
    ]
    assert "can't be used for new tables" in message


def test_description_limit() -> None:
    assert "description" in problems({"name": "t", "type": "detail", "description": "x" * 1001})


def test_aggregate_columns_need_a_type() -> None:
    found = problems(
        {
            "name": "t",
            "type": "aggregate",
            "schema": [
                {"type": "dimension", "name": "city", "dataType": "string"},
                {"name": "count", "dataType": "long"},
            ],
        }
    )
    assert found == {
        "schema[1].type": 'aggregate table columns need "type": "dimension" or "measure"'
    }


def test_aggregate_clusters_by_dimensions_only() -> None:
    found = problems(
        {
            "name": "t",
            "type": "aggregate",
            "clusteringColumns": ["city", "count"],
            "schema": [
                {"type": "dimension", "name": "city", "dataType": "string"},
                {"type": "measure", "name": "count", "dataType": "long"},
            ],
        }
    )
    assert list(found) == ["clusteringColumns[1]"]


def test_aggregate_without_measures_is_allowed() -> None:
    parse_table_spec({"name": "t", "type": "aggregate", "schema": []})


def test_query_granularity_and_storage_policy_checked() -> None:
    found = problems(
        {
            "name": "t",
            "type": "aggregate",
            "queryGranularity": {"type": "period"},
            "storagePolicy": {"retain": {"type": "period", "period": "90 days"}},
        }
    )
    assert set(found) == {"queryGranularity.period", "storagePolicy.retain.period"}


def test_snake_case_and_unknown_fields() -> None:
    spec = parse_table_spec(
        {"name": "t", "type": "detail", "schema_mode": "flexible", "newFeature": {"on": True}},
        allow_unknown_fields=["newFeature"],
    )
    assert spec.to_api() == {
        "name": "t",
        "type": "detail",
        "schemaMode": "flexible",
        "newFeature": {"on": True},
    }
