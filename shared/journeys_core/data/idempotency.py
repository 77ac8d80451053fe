"""Running a function once per key: Powertools idempotency, records in DynamoDB.

The first call for a key stores an in-progress record (one conditional PutItem), runs the
function and stores its result (one UpdateItem); a later call with the same key gets the
stored result without running anything (one PutItem that fails its condition). A call that
raises deletes its record, so the key can be tried again. Records expire (table TTL on
``expiration``) after ``expires_after_seconds``.

Powertools and its persistence layer (which imports boto3) are loaded on first use, not at
import time, and use the service's own DynamoDB client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from journeys_core.data import aws


class IdempotentCall:
    def __init__(
        self,
        function: Callable[..., Any],
        *,
        table_name: str,
        data_keyword_argument: str,
        event_key_jmespath: str,
        key_prefix: str,
        expires_after_seconds: int,
    ) -> None:
        self.function = function
        self.table_name = table_name
        self.data_keyword_argument = data_keyword_argument
        self.event_key_jmespath = event_key_jmespath
        self.key_prefix = key_prefix
        self.expires_after_seconds = expires_after_seconds
        self._built: tuple[Any, Any, Callable[..., Any]] | None = None

    def _wrapped(self) -> tuple[Any, Callable[..., Any]]:
        client = aws.dynamodb()
        if self._built is None or self._built[0] is not client:
            from aws_lambda_powertools.utilities.idempotency import (
                DynamoDBPersistenceLayer,
                IdempotencyConfig,
                idempotent_function,
            )

            config = IdempotencyConfig(
                event_key_jmespath=self.event_key_jmespath,
                raise_on_no_idempotency_key=True,
                expires_after_seconds=self.expires_after_seconds,
            )
            persistence = DynamoDBPersistenceLayer(table_name=self.table_name, boto3_client=client)
            wrapped = idempotent_function(
                self.function,
                data_keyword_argument=self.data_keyword_argument,
                persistence_store=persistence,
                config=config,
                key_prefix=self.key_prefix,
            )
            self._built = (client, config, wrapped)
        return self._built[1], self._built[2]

    def register_lambda_context(self, context: Any) -> None:
        """Let an in-progress record expire with the invocation that wrote it (a timed-out
        Lambda does not block its retry)."""
        config, _ = self._wrapped()
        config.register_lambda_context(context)

    def __call__(self, **kwargs: Any) -> Any:
        _, wrapped = self._wrapped()
        return wrapped(**kwargs)
