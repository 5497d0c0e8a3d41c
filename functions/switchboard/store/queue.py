"""The outbox queues' producer side: what to send, handed to SQS for the sender function."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

from switchboard.models import OutboundMessage

SQS_BATCH = 10  # SendMessageBatch's limit


class OutboxQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, message: OutboundMessage) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.to_json())

    def send_all(self, messages: Sequence[OutboundMessage], attempts: int = 5) -> None:
        """Queue many messages, ten per request; entries SQS refuses are sent again."""
        for start in range(0, len(messages), SQS_BATCH):
            pending = {_entry_id(message): message for message in messages[start : start + SQS_BATCH]}
            for _ in range(attempts):
                response = self._sqs.send_message_batch(
                    QueueUrl=self._url, Entries=[{"Id": entry_id, "MessageBody": message.to_json()} for entry_id, message in pending.items()]
                )
                pending = {failure["Id"]: pending[failure["Id"]] for failure in response.get("Failed", [])}
                if not pending:
                    break
            if pending:
                raise RuntimeError(f"SQS refused {len(pending)} messages after {attempts} attempts")


def _entry_id(message: OutboundMessage) -> str:
    """A batch entry id (alphanumeric, ≤ 80 characters) unique within the batch."""
    return hashlib.sha1(message.idempotency_key.encode("utf-8")).hexdigest()
