"""The pynamodb models and infra/template.yaml describe the same tables.

The deployment and the local gateway create tables from the template; the code reads and
writes them through the models. A key or index that exists on one side only fails in
production (ValidationException on the first query), so the two are compared here.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from pynamodb.models import Model

from chalicelib.adapters.tables import ALL_MODELS
from chalicelib.config import TableNames
from local.aws import TABLE_RESOURCES, load_template

TEMPLATE = load_template()
# Tables a library owns, with its own item layout: Powertools' idempotency records.
TABLES_WITHOUT_MODELS = {"idempotency"}
RESOURCE_OF = {key: logical_id for logical_id, key in TABLE_RESOURCES.items()}


def _keys(key_schema: list[dict[str, str]]) -> dict[str, str]:
    """{"HASH": name, "RANGE": name}: order-free (pynamodb does not list HASH first)."""
    return {k["KeyType"]: k["AttributeName"] for k in key_schema}


def _projection(projection: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return projection["ProjectionType"], tuple(sorted(projection.get("NonKeyAttributes") or ()))


def _indexes(indexes: list[dict[str, Any]], name: str, keys: str, projection: str) -> dict[str, Any]:
    return {i[name]: (_keys(i[keys]), _projection(i[projection])) for i in indexes or ()}


def model_schema(model: type[Model]) -> dict[str, Any]:
    # _get_schema() is what pynamodb's own create_table sends: its view of the table.
    schema = model._get_schema()
    return {
        "keys": _keys(schema["key_schema"]),
        "attribute_types": {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]},
        "global_indexes": _indexes(schema["global_secondary_indexes"], "index_name", "key_schema", "projection"),
        "local_indexes": _indexes(schema["local_secondary_indexes"], "index_name", "key_schema", "projection"),
    }


def template_schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "keys": _keys(properties["KeySchema"]),
        "attribute_types": {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]},
        "global_indexes": _indexes(properties.get("GlobalSecondaryIndexes"), "IndexName", "KeySchema", "Projection"),
        "local_indexes": _indexes(properties.get("LocalSecondaryIndexes"), "IndexName", "KeySchema", "Projection"),
    }


def differences(model: type[Model], properties: dict[str, Any]) -> list[str]:
    ours, theirs = model_schema(model), template_schema(properties)
    return [f"{part}: model {ours[part]!r} != template {theirs[part]!r}"
            for part in ours if ours[part] != theirs[part]]


def test_every_model_has_a_table_resource_and_every_table_a_model() -> None:
    tables_in_template = {name for name, resource in TEMPLATE["Resources"].items()
                          if resource.get("Type") == "AWS::DynamoDB::Table"}
    assert tables_in_template == set(TABLE_RESOURCES)
    assert set(ALL_MODELS) | TABLES_WITHOUT_MODELS == set(TABLE_RESOURCES.values())
    assert set(ALL_MODELS) | TABLES_WITHOUT_MODELS == {f.name for f in dataclasses.fields(TableNames)}


@pytest.mark.parametrize("key", sorted(ALL_MODELS))
def test_model_matches_template_table(key: str) -> None:
    properties = TEMPLATE["Resources"][RESOURCE_OF[key]]["Properties"]
    assert differences(ALL_MODELS[key], properties) == []


@pytest.mark.parametrize("mutate, part", [
    (lambda p: p["KeySchema"][0].update(AttributeName="owner_key"), "keys"),
    (lambda p: p["AttributeDefinitions"][0].update(AttributeType="N"), "attribute_types"),
    (lambda p: p["GlobalSecondaryIndexes"][0]["Projection"].update(ProjectionType="ALL"), "global_indexes"),
    (lambda p: p["GlobalSecondaryIndexes"].pop(), "global_indexes"),
    (lambda p: p["GlobalSecondaryIndexes"][1]["KeySchema"].pop(), "global_indexes"),
])
def test_a_drifted_template_is_reported(mutate: Any, part: str) -> None:
    properties = copy.deepcopy(TEMPLATE["Resources"]["ConnectionsTable"]["Properties"])
    assert differences(ALL_MODELS["connections"], properties) == []
    mutate(properties)
    found = differences(ALL_MODELS["connections"], properties)
    assert [line.split(":")[0] for line in found] == [part], found
