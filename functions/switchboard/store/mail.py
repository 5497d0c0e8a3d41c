"""Raw inbound mail and its attachments in the mail bucket.

SES's receipt rule writes each message to <prefix><SES messageId>; attachments are
written beside it under attachments/<SES messageId>/, with the same name on every
retry, so a redelivered message overwrites rather than piles up.
"""

from __future__ import annotations

from typing import Any

# Raw messages above this are not read into a Lambda's memory (SES itself accepts up to 40 MB).
MAX_RAW_BYTES = 40 * 1024 * 1024


class RawMailMissing(Exception):
    """SES's S3 action did not store the message the event names."""


class RawMailTooLarge(Exception):
    pass


class MailStore:
    def __init__(self, s3_client: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._prefix = prefix

    def raw_key(self, ses_message_id: str) -> str:
        return f"{self._prefix}{ses_message_id}"

    def raw_url(self, ses_message_id: str) -> str:
        return f"s3://{self._bucket}/{self.raw_key(ses_message_id)}"

    def read_raw(self, ses_message_id: str) -> bytes:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=self.raw_key(ses_message_id))
        except self._s3.exceptions.NoSuchKey:
            raise RawMailMissing(f"no raw message at {self.raw_url(ses_message_id)}") from None
        if response.get("ContentLength", 0) > MAX_RAW_BYTES:
            raise RawMailTooLarge(f"raw message is {response['ContentLength']} bytes, above {MAX_RAW_BYTES}")
        return response["Body"].read()

    def put_raw(self, ses_message_id: str, raw: bytes) -> str:
        """What SES's S3 action does; used by the local stack and tests."""
        self._s3.put_object(Bucket=self._bucket, Key=self.raw_key(ses_message_id), Body=raw)
        return self.raw_url(ses_message_id)

    def put_attachment(self, ses_message_id: str, name: str, content: bytes, content_type: str) -> str:
        """Store one attachment; returns its s3:// URL."""
        key = f"attachments/{ses_message_id}/{name}"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=content, ContentType=content_type)
        return f"s3://{self._bucket}/{key}"
