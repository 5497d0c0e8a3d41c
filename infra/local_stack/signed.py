"""Requests signed for an IAM-authorized API Gateway route: AWS Signature Version 4 for
service execute-api, made by botocore's own signer.

It knows nothing of the local stack: the same call signs for the local gateway (with the
local stack's credentials) and for a deployed API (with the caller's own).
"""

from __future__ import annotations

import urllib.request
from typing import Any, Mapping
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

SERVICE = "execute-api"


def signed_request(method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None, credentials: Any = None, region: str | None = None) -> urllib.request.Request:
    """A urllib request for `url`, signed now with `credentials` (botocore Credentials, or
    anything with access_key, secret_key and token) for `region`.

    Without credentials or region, botocore's usual chain decides (environment, profile, role),
    as the AWS CLI would. The Host header is signed as urllib will send it; headers added to
    the returned request afterwards are sent unsigned, which SigV4 allows.
    """
    if credentials is None or region is None:
        import botocore.session  # only when the caller leaves it to botocore's chain

        session = botocore.session.get_session()
        credentials = credentials or session.get_credentials()
        region = region or session.get_config_variable("region")
        if credentials is None or not region:
            raise ValueError("no AWS credentials or region to sign with (set them, or pass credentials and region)")
    method = method.upper()
    sent = dict(headers or {})
    if not any(name.lower() == "host" for name in sent):
        sent["Host"] = urlsplit(url).netloc
    request = AWSRequest(method=method, url=url, data=body or b"", headers=sent)
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method=method)
