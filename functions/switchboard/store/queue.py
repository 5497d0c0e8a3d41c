"""The outbox queue's producer side: what to send, handed to SQS for the sender function."""

from __future__ import annotations

from typing import Any

from switchboard.models import OutboundMessage


class OutboxQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, message: OutboundMessage) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.to_json())
