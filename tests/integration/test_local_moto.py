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


def test_plain_json_answers_are_what_motos_serializer_writes(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """local/aws.py writes DynamoDB item operations' answers with json.dumps: for every
    operation it covers, on real answers with every attribute type, the body must parse to
    exactly what moto's own serializer writes."""
    import json

    from moto.core.responses import ActionResult

    from local.aws import plain_json_answer

    generic = ActionResult.execute_result.generic  # type: ignore[attr-defined]
    compared: list[str] = []
    mismatches: list[tuple[str, Any, Any]] = []

    def both(self: Any, context: Any) -> Any:
        answer = generic(self, context)
        plain = plain_json_answer(self.result, context.operation_model)
        if context.service_model.service_name == "dynamodb" and plain is not None:
            compared.append(context.operation_model.name)
            if json.loads(plain) != json.loads(answer[2]):
                mismatches.append((context.operation_model.name, json.loads(plain), json.loads(answer[2])))
        return answer

    monkeypatch.setattr(ActionResult, "execute_result", both)
    item = {"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "1.5"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
            "l": {"L": [{"S": "x"}, {"N": "3"}, {"M": {"deep": {"BOOL": True}}}]}, "m": {"M": {"k": {"NULL": True}}},
            "t": {"BOOL": False}}
    dynamodb.put_item(TableName="t", Item=item, ReturnConsumedCapacity="TOTAL")
    dynamodb.put_item(TableName="t", Item={**item, "sk": {"S": "2"}}, ReturnValues="ALL_OLD")
    dynamodb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}}, ConsistentRead=True)
    dynamodb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "none"}})
    dynamodb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}},
                   Limit=1)
    dynamodb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}},
                   ProjectionExpression="sk, n", ScanIndexForward=False)
    dynamodb.scan(TableName="t")
    dynamodb.update_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}}, UpdateExpression="ADD n :one",
                         ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")
    dynamodb.update_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}}, UpdateExpression="SET z = :z",
                         ExpressionAttributeValues={":z": {"S": "z"}})
    dynamodb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "p"}, "sk": {"S": "1"}},
                                                         {"pk": {"S": "p"}, "sk": {"S": "none"}}],
                                                "ConsistentRead": True}})
    dynamodb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": "q"}, "sk": {"S": "1"}}}}]})
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "2"}}}}])
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "q"}, "sk": {"S": "2"}}}}])
    dynamodb.delete_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "2"}}, ReturnValues="ALL_OLD")
    # Binary values are bytes in moto's result: those answers go to moto's serializer, intact.
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "bin"}, "sk": {"S": "1"}, "b": {"B": b"\x00\x01"}})
    assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "bin"}, "sk": {"S": "1"}})["Item"]["b"]["B"] == b"\x00\x01"
    assert mismatches == []
    assert {"PutItem", "GetItem", "Query", "Scan", "UpdateItem", "BatchGetItem", "BatchWriteItem", "TransactGetItems",
            "TransactWriteItems", "DeleteItem"} <= set(compared)
