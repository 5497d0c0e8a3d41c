"""The gateway: serves template.yaml's HttpApi routes on localhost.

Each request becomes a real API Gateway v2 (payload format 2.0) event for the function
the route names, and the function's response becomes the HTTP response, as API Gateway
does; a function past its Timeout is abandoned and answered 500, as Lambda ends it. Functions run in this process, imported once (one warm instance each); requests
are served on threads, so concurrent requests reach a function concurrently.

A route's throttle (the stage's DefaultRouteSettings, or the event's RouteSettings) is a
token bucket, as API Gateway's: a request that finds it empty gets API Gateway's 429
before any authorization or function runs.

A route declared with IAM authorization (`Auth: {Authorizer: AWS_IAM}`) answers only
requests signed with AWS Signature Version 4 for service execute-api, checked as API
Gateway checks them (botocore's own signer recomputes the signature), with the local
stack's throwaway credentials; the function then sees the caller in
requestContext.authorizer.iam.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import traceback
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from ulid import ULID

from local_stack.invoke import FunctionTimedOut, invoke_within_timeout
from local_stack.stack import Endpoints
from local_stack.template import ACCOUNT_ID, AUTHORIZATION_IAM, REGION, FunctionSpec, Route, Throttle

# API Gateway refuses payloads above 10 MB before any function runs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# Bodies API Gateway passes as text; anything else arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def api_gateway_event(route: Route, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str, path_parameters: dict[str, str], authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
    url = urlsplit(target)
    merged: dict[str, str] = {}
    for name, value in headers:  # repeated headers are joined with commas, as API Gateway does
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    # Payload 2.0 moves the Cookie header into `cookies`, one entry per cookie.
    cookies = [cookie.strip() for cookie in merged.pop("cookie", "").replace(",", ";").split(";") if cookie.strip()]
    content_type = merged.get("content-type", "")
    is_text = content_type.startswith(_TEXT_TYPES)
    now = datetime.now(timezone.utc)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": merged.get("host", "127.0.0.1").split(".")[0],
            "http": {"method": method, "path": url.path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": merged.get("user-agent", "")},
            "requestId": str(ULID()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if url.query:
        params: dict[str, str] = {}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode("ascii")
    return event


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's return value → status, headers, body (payload format 2.0 rules: each of
    `cookies` becomes a Set-Cookie header of its own)."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
        return int(result["statusCode"]), headers, raw
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode("utf-8")


# ---- IAM authorization: AWS Signature Version 4, as API Gateway checks it ----------------

SIGNING_SERVICE = "execute-api"
# How far a request's X-Amz-Date may be from API Gateway's clock, either way.
MAX_SIGNATURE_SKEW = timedelta(minutes=5)
FORBIDDEN = "Forbidden"
INVALID_TOKEN = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_ALGORITHM = "AWS4-HMAC-SHA256"


class SignatureRejected(Exception):
    """API Gateway's 403 for a request to an AWS_IAM route; `message` is the body's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def local_credentials() -> dict[str, str]:
    """Access key id → secret key: exactly the throwaway credentials the local stack gives
    functions and the CLI (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of its environment)."""
    environment = Endpoints(dynamodb_port=0, moto_port=0).environment()
    return {environment["AWS_ACCESS_KEY_ID"]: environment["AWS_SECRET_ACCESS_KEY"]}


def iam_authorizer(access_key: str) -> dict[str, Any]:
    """requestContext.authorizer of a payload 2.0 event for an IAM-authorized request.

    Locally every access key is an IAM user of the local account named after the key."""
    user_id = f"AIDA{access_key.upper()}"
    return {
        "iam": {
            "accessKey": access_key,
            "accountId": ACCOUNT_ID,
            "callerId": user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{access_key}",
            "userId": user_id,
        }
    }


class _SignedHeadersSigV4(SigV4Auth):
    """botocore's SigV4 signer over exactly the headers the request's SignedHeaders names.

    botocore leaves User-Agent, Expect and a few others out of what it signs itself; other
    SigV4 clients may sign them, and API Gateway verifies whatever SignedHeaders lists."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value
        return headers


def verify_signature(method: str, target: str, headers: list[tuple[str, str]], body: bytes, *, credentials: Mapping[str, str], now: datetime, region: str = REGION) -> str:
    """The access key id of a request whose SigV4 signature (service execute-api) verifies, as
    API Gateway checks a request to an AWS_IAM route; else SignatureRejected with API Gateway's
    message. `target` is the request target as sent (path and query, undecoded)."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value)
    authorization = (values.get("authorization") or [""])[0].strip()
    if not authorization:
        raise SignatureRejected(FORBIDDEN)
    algorithm, _, rest = authorization.partition(" ")
    parameters = {key.strip(): value.strip() for key, _, value in (part.partition("=") for part in rest.split(","))}
    date_header = (values.get("x-amz-date") or values.get("date") or [""])[0].strip()
    problems = [f"Authorization header requires '{name}' parameter." for name in ("Credential", "Signature", "SignedHeaders") if not parameters.get(name)]
    if not date_header:
        problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if algorithm != _ALGORITHM:
        problems.insert(0, f"Authorization header requires the '{_ALGORITHM}' algorithm.")
    if problems:
        raise SignatureRejected(" ".join(problems) + f" Authorization={authorization}")

    scope = parameters["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureRejected(f"Credential should be scoped with a valid terminator: 'aws4_request', not '{scope[-1]}'.")
    access_key, _, scope_region, scope_service, _ = scope
    if scope_service != SIGNING_SERVICE:
        raise SignatureRejected(f"Credential should be scoped to correct service: '{SIGNING_SERVICE}'.")
    if scope_region != region:
        raise SignatureRejected(f"Credential should be scoped to a valid region, not '{scope_region}'.")

    signed_at = _signature_time(date_header, "x-amz-date" in values)
    timestamp = signed_at.strftime(SIGV4_TIMESTAMP)
    now = now.astimezone(timezone.utc)
    if signed_at < now - MAX_SIGNATURE_SKEW:
        raise SignatureRejected(f"Signature expired: {timestamp} is now earlier than {(now - MAX_SIGNATURE_SKEW).strftime(SIGV4_TIMESTAMP)} ({now.strftime(SIGV4_TIMESTAMP)} - 5 min.)")
    if signed_at > now + MAX_SIGNATURE_SKEW:
        raise SignatureRejected(f"Signature not yet current: {timestamp} is still later than {(now + MAX_SIGNATURE_SKEW).strftime(SIGV4_TIMESTAMP)} ({now.strftime(SIGV4_TIMESTAMP)} + 5 min.)")

    secret_key = credentials.get(access_key)
    if secret_key is None:
        raise SignatureRejected(INVALID_TOKEN)

    signed_headers = [name.strip().lower() for name in parameters["SignedHeaders"].split(";") if name.strip()]
    if "host" not in signed_headers:
        raise SignatureRejected("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    claimed_hash = values.get("x-amz-content-sha256", [None])[0]
    if "x-amz-content-sha256" in signed_headers and claimed_hash != hashlib.sha256(body).hexdigest():
        raise SignatureRejected(SIGNATURE_MISMATCH)  # the body is not the one that was signed

    # The request as the client signed it: method, target, signed headers, body, X-Amz-Date.
    host = (values.get("host") or [""])[0]
    if not host:
        raise SignatureRejected(SIGNATURE_MISMATCH)  # a signed Host that was not sent
    request = AWSRequest(method=method.upper(), url=f"http://{host}{target}", data=body)
    for name in signed_headers:
        for value in values.get(name, []):
            request.headers[name] = value
    request.context["timestamp"] = timestamp
    signer = _SignedHeadersSigV4(Credentials(access_key, secret_key), SIGNING_SERVICE, scope_region)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    if not hmac.compare_digest(signer.signature(string_to_sign, request), parameters["Signature"]):
        raise SignatureRejected(
            f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical_request}'"
            f"\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        )
    return access_key


def _signature_time(value: str, is_amz_date: bool) -> datetime:
    """When the request was signed: X-Amz-Date (ISO 8601 basic format) or an HTTP Date."""
    try:
        if is_amz_date:
            return datetime.strptime(value, SIGV4_TIMESTAMP).replace(tzinfo=timezone.utc)
        return parsedate_to_datetime(value).astimezone(timezone.utc)
    except (TypeError, ValueError):
        raise SignatureRejected(f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601") from None


class TokenBucket:
    """API Gateway's throttle for one route: `burst` tokens, refilled at `rate_per_second`."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float] = time.monotonic) -> None:
        self.throttle = throttle
        self.clock = clock
        self.tokens = float(throttle.burst)
        self.refilled_at = clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.throttle.burst, self.tokens + (now - self.refilled_at) * self.throttle.rate_per_second)
            self.refilled_at = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class Gateway:
    def __init__(self, routes: list[Route], functions: dict[str, FunctionSpec], host: str = "127.0.0.1", port: int = 3000, log=sys.stderr, credentials: Mapping[str, str] | None = None, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.routes = routes
        self.functions = functions
        self.log = log
        # Access key id → secret key of the callers an AWS_IAM route accepts.
        self.credentials = dict(local_credentials() if credentials is None else credentials)
        self.clock = clock
        self.buckets = {route.route_key: TokenBucket(route.throttle) for route in routes if route.throttle}
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def start_in_thread(self) -> "Gateway":
        self._thread = threading.Thread(target=self.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm on, the
            # body waits for the client's delayed ACK (~40 ms per request on Linux).
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                started = time.perf_counter()
                found = gateway.find(self.command, urlsplit(self.path).path)
                if found is None:
                    return self._reply(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}', started)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_PAYLOAD_BYTES:
                    self.close_connection = True
                    return self._reply(413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}', started)
                body = self.rfile.read(length) if length else b""
                route, parameters = found
                bucket = gateway.buckets.get(route.route_key)
                if bucket is not None and not bucket.take():
                    return self._reply(429, {"Content-Type": "application/json"}, b'{"message":"Too Many Requests"}', started, route)
                headers = list(self.headers.items())
                authorizer = None
                if route.authorization == AUTHORIZATION_IAM:
                    try:
                        access_key = verify_signature(self.command, self.path, headers, body, credentials=gateway.credentials, now=gateway.clock())
                    except SignatureRejected as rejected:
                        payload = json.dumps({"message": rejected.message}).encode("utf-8")
                        return self._reply(403, {"Content-Type": "application/json"}, payload, started, route)
                    authorizer = iam_authorizer(access_key)
                event = api_gateway_event(route, self.command, self.path, headers, body, self.client_address[0], parameters, authorizer)
                try:
                    status, headers, payload = http_response(invoke_within_timeout(gateway.functions[route.function_id], event))
                except FunctionTimedOut as timed_out:  # what API Gateway answers when Lambda ends the function
                    print(f"{route.function_id}: {timed_out}", file=gateway.log, flush=True)
                    status, headers, payload = 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
                except Exception:
                    traceback.print_exc(file=gateway.log)
                    status, headers, payload = 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
                self._reply(status, headers, payload, started, route)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def _reply(self, status: int, headers: dict[str, str] | list[tuple[str, str]], payload: bytes, started: float, route: Any = None) -> None:
                self.send_response(status)
                for name, value in headers.items() if isinstance(headers, dict) else headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                elapsed = (time.perf_counter() - started) * 1000
                # The route, not the path: a path may hold a link's token, which no log keeps.
                request = route.route_key if route else f"{self.command} {urlsplit(self.path).path}"
                print(f"{request} → {route.function_id if route else '-'} {status} {elapsed:.0f} ms", file=gateway.log, flush=True)

            def log_message(self, format: str, *args: Any) -> None:  # our own line above replaces it
                pass

        return Handler
