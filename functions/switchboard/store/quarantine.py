"""Rejected requests, kept in S3 with their reason so an operator can see what was refused.

Objects live under <prefix><YYYY>/<MM>/<DD>/<HH>/<ulid>.json, so the newest are found by
walking the hours backwards (S3 lists in ascending order only) without listing a whole
flood; the bucket's lifecycle rule in template.yaml expires them, so personal data in
refused requests does not pile up.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from ulid import ULID

# Keep at most this much of a refused body: enough to diagnose, bounded for oversize bodies.
MAX_KEPT_BODY_BYTES = 256 * 1024
# A refused HTTP request (unsigned, forged, malformed) keeps less: its metadata and the
# start of its body say what it was, and junk cannot fill the bucket.
REQUEST_BODY_KEPT_BYTES = 4096
MAX_HEADER_CHARS = 1024  # per header value


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
    body_limit: int = MAX_KEPT_BODY_BYTES
    path: str = ""  # the request's own path (a route's {parameters} filled in), for a replay

    def to_document(self) -> dict[str, Any]:
        kept = self.body[: self.body_limit]
        try:
            body, encoding = kept.decode("utf-8"), "text"
        except UnicodeDecodeError:  # binary, or a cut through a character
            body, encoding = base64.b64encode(kept).decode("ascii"), "base64"
        return {
            "status": self.status,
            "reason": self.reason,
            "route": self.route,
            "path": self.path,
            "received_at": self.received_at.isoformat(),
            "source_ip": self.source_ip,
            "request_id": self.request_id,
            "query": self.query,
            "headers": {name: value[:MAX_HEADER_CHARS] for name, value in self.headers.items()},
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
        key = f"{self._prefix}{moment:%Y/%m/%d/%H}/{ULID.from_datetime(moment)}.json"
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(record.to_document(), ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )
        return key

    def get(self, key: str) -> dict[str, Any] | None:
        """One kept request by its key, or None."""
        if not key.startswith(self._prefix):
            return None
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        return {"key": key, **json.loads(body)}

    def list(self, day: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The rejected requests of one day (all days when None), newest first."""
        return self.page(day, limit)[0]

    def page(self, day: datetime | None = None, limit: int = 50, before: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` rejected requests, newest first, older than the key `before`;
        and the key to pass as `before` for the next page (None after the last)."""
        keys = list(itertools.islice(self._keys_newest_first(day, before), limit + 1))
        documents = []
        for key in keys[:limit]:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            documents.append({"key": key, **json.loads(body)})
        return documents, keys[limit - 1] if len(keys) > limit and limit > 0 else None

    def _keys_newest_first(self, day: datetime | None, before: str | None) -> Iterator[str]:
        start = self._prefix + (f"{day:%Y/%m/%d}/" if day else "")
        for folder in self._folders_newest_first(start, depth=1 if day else 4):
            if before and folder > before:  # every key below it is newer than `before`
                continue
            for key in sorted(self._list(folder, objects=True), reverse=True):
                if not before or key < before:
                    yield key

    def _folders_newest_first(self, prefix: str, depth: int) -> Iterator[str]:
        """The hour folders under prefix (depth levels down: year/month/day/hour), newest first.

        A day folder written before hours were kept holds its objects directly: they come
        after that day's hours.
        """
        if depth == 0:
            yield prefix
            return
        for folder in sorted(self._list(prefix, objects=False), reverse=True):
            yield from self._folders_newest_first(folder, depth - 1)
        if depth == 1:
            yield prefix

    def _list(self, prefix: str, objects: bool) -> list[str]:
        """The object keys (objects=True) or the sub-folders directly under prefix."""
        found: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/"):
            if objects:
                found.extend(obj["Key"] for obj in page.get("Contents", []))
            else:
                found.extend(common["Prefix"] for common in page.get("CommonPrefixes", []))
        return found
