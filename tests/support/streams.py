"""DynamoDB stream records as Lambda receives them, read from moto's stream of a table."""

from __future__ import annotations

from typing import Any


def lambda_stream_records(table_name: str) -> list[dict[str, Any]]:
    """Every record of the table's stream so far, shaped like a Lambda DynamoDB event's
    ``Records`` (eventSourceARN added, ApproximateCreationDateTime in epoch seconds)."""
    import boto3

    stream_arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"][
        "LatestStreamArn"
    ]
    # botocore now calls {account}.streams-ddb.{region}.amazonaws.com, which moto does not
    # route yet: name the regional endpoint moto serves.
    region = boto3.session.Session().region_name
    streams = boto3.client(
        "dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com"
    )
    records: list[dict[str, Any]] = []
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator)
            if not response["Records"]:
                break
            for record in response["Records"]:
                change = dict(record["dynamodb"])
                created = change.get("ApproximateCreationDateTime")
                if created is not None and hasattr(created, "timestamp"):
                    change["ApproximateCreationDateTime"] = int(created.timestamp())
                records.append({**record, "dynamodb": change, "eventSourceARN": stream_arn})
            iterator = response.get("NextShardIterator")
    return records


class RollupFeed:
    """The journey rollups function fed the log table's stream records it has not had yet,
    in one batch, as Lambda would deliver them."""

    def __init__(self) -> None:
        self.delivered: set[str] = set()

    def __call__(self) -> dict[str, Any] | None:
        import importlib
        import os

        from tests.conftest import LambdaContext

        records = lambda_stream_records(os.environ["JOURNEY_LOG_TABLE_NAME"])
        fresh = [r for r in records if r["eventID"] not in self.delivered]
        if not fresh:
            return None
        handler = importlib.import_module("functions.journey_rollups.app").handler
        answer = dict(handler({"Records": fresh}, LambdaContext()))
        self.delivered.update(r["eventID"] for r in fresh)
        return answer
