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


def test_partition_queries_answer_what_motos_full_walk_answers(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """local/aws.py lets moto's Query look at the asked partition only (or, for an index,
    at every item unsorted): every kind of Query must answer exactly what moto answers
    when it walks and sorts the whole table, page by page."""
    from moto.dynamodb.models.table import Table

    dynamodb.create_table(
        TableName="q", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "gs")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                               {"AttributeName": "gs", "KeyType": "RANGE"}]}],
    )
    dynamodb.create_table(
        TableName="h", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    for p in range(6):
        dynamodb.put_item(TableName="h", Item={"pk": {"S": f"p{p}"}, "n": {"N": str(p)}})
        for s in range(9):
            item = {"pk": {"S": f"p{p}"}, "sk": {"S": f"m#{s:02d}"}, "n": {"N": str(s)}}
            if s % 3:  # some items are not in the index
                item |= {"g": {"S": f"g{(p + s) % 3}"}, "gs": {"S": f"{s % 4}"}}
            dynamodb.put_item(TableName="q", Item=item)
    value = {":p": {"S": "p2"}, ":g": {"S": "g1"}}
    queries = [
        {"TableName": "q", "KeyConditionExpression": "pk = :p"},
        {"TableName": "q", "KeyConditionExpression": "pk = :p AND begins_with(sk, :m)", "ScanIndexForward": False,
         "ExpressionAttributeValues": {":m": {"S": "m#0"}}},
        {"TableName": "q", "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b", "FilterExpression": "n > :two",
         "ExpressionAttributeValues": {":a": {"S": "m#02"}, ":b": {"S": "m#07"}, ":two": {"N": "2"}}},
        {"TableName": "q", "KeyConditionExpression": "pk = :nobody"},
        {"TableName": "q", "IndexName": "by-g", "KeyConditionExpression": "g = :g"},
        {"TableName": "q", "IndexName": "by-g", "KeyConditionExpression": "g = :g AND gs >= :one",
         "ScanIndexForward": False, "ExpressionAttributeValues": {":one": {"S": "1"}}},
        {"TableName": "h", "KeyConditionExpression": "pk = :p"},
        {"TableName": "h", "KeyConditionExpression": "pk = :nobody"},
    ]

    def pages(query: dict[str, Any], limit: int | None) -> list[Any]:
        values = {k: v for k, v in value.items() if k in query["KeyConditionExpression"]}
        values |= query.get("ExpressionAttributeValues", {})
        if ":nobody" in query["KeyConditionExpression"]:
            values[":nobody"] = {"S": "nobody"}
        ask = {**query, "ExpressionAttributeValues": values} | ({"Limit": limit} if limit else {})
        answers, start = [], None
        while True:
            answer = dynamodb.query(**ask, **({"ExclusiveStartKey": start} if start else {}))
            answers.append((answer["Items"], answer["Count"], answer.get("LastEvaluatedKey")))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return answers

    ours = [pages(q, limit) for q in queries for limit in (None, 2, 5)]
    every_item_sorted, query = Table._kefu_unpatched  # type: ignore[attr-defined]
    monkeypatch.setattr(Table, "all_items", every_item_sorted)
    monkeypatch.setattr(Table, "query", query)
    theirs = [pages(q, limit) for q in queries for limit in (None, 2, 5)]
    assert ours == theirs
    assert sum(len(items) for answer in ours for page in answer for items in [page[0]]) > 100
