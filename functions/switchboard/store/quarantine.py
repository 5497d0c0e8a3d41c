"""Rejected requests, kept in S3 with their reason so an operator can see what was refused.

Objects live under <prefix><YYYY>/<MM>/<DD>/<ulid>.json; the bucket's lifecycle rule in
template.yaml expires them, so personal data in refused requests does not pile up.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ulid import ULID

# Keep at most this much of a refused body: enough to diagnose, bounded for oversize bodies.
MAX_KEPT_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class RejectedRequestRecord:
    status: int
    reason: str
    route: str
    received_at: datetime
    headers: dict[str, str]
    body: bytes
    source_ip: str | None = None
    request_id: str | None = None
    query: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        kept = self.body[:MAX_KEPT_BODY_BYTES]
        try:
            body, encoding = kept.decode("utf-8"), "text"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(kept).decode("ascii"), "base64"
        return {
            "status": self.status,
            "reason": self.reason,
            "route": self.route,
            "received_at": self.received_at.isoformat(),
            "source_ip": self.source_ip,
            "request_id": self.request_id,
            "query": self.query,
            "headers": self.headers,
            "body": body,
            "body_encoding": encoding,
            "body_bytes": len(self.body),
            "body_truncated": len(self.body) > len(kept),
            **self.extra,
        }


class QuarantineStore:
    def __init__(self, s3_client: Any, bucket: str, prefix: str = "rejected/") -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._prefix = prefix

    def keep(self, record: RejectedRequestRecord) -> str:
        """Store one rejected request; returns its object key."""
        moment = record.received_at
        key = f"{self._prefix}{moment:%Y/%m/%d}/{ULID.from_datetime(moment)}.json"
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(record.to_document(), ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )
        return key

    def list(self, day: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The rejected requests of one day (all days when None), newest first."""
        prefix = self._prefix + (f"{day:%Y/%m/%d}/" if day else "")
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        documents = []
        for key in sorted(keys, reverse=True)[:limit]:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            documents.append({"key": key, **json.loads(body)})
        return documents
