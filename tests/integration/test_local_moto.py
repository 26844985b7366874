"""The local moto server's item-level rollback of TransactWriteItems (local/aws.py) keeps
DynamoDB's all-or-nothing promise: a cancelled transaction leaves every item as it was."""
from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws import MotoServer


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    server = MotoServer().start()
    client = boto3.client("dynamodb", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    client.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    yield client
    server.stop()


def _items(client: Any) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName="t")["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_a_cancelled_transaction_changes_nothing(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "c1"}, "sk": {"S": "meta"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "c1"}, "sk": {"S": "m#1"}, "text": {"S": "one"}})
    before = _items(dynamodb)
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "c1"}, "sk": {"S": "m#2"}, "text": {"S": "two"}}}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "c1"}, "sk": {"S": "m#1"}, "text": {"S": "ONE"}}}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "c1"}, "sk": {"S": "meta"}},
                        "UpdateExpression": "SET n = n + :one", "ConditionExpression": "n = :zero",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}}}},
        ])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(dynamodb) == before  # the new item is gone, the overwritten one restored


def test_a_successful_transaction_applies_every_write(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "c2"}, "sk": {"S": "m#1"}, "text": {"S": "hi"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "c2"}, "sk": {"S": "meta"}},
                    "UpdateExpression": "SET n = :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ])
    assert [(i["sk"]["S"]) for i in _items(dynamodb) if i["pk"]["S"] == "c2"] == ["m#1", "meta"]
