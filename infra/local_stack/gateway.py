"""The gateway: serves template.yaml's HttpApi routes on localhost.

Each request becomes a real API Gateway v2 (payload format 2.0) event for the function
the route names, and the function's response becomes the HTTP response, as API Gateway
does. Functions run in this process, imported once (one warm instance each); requests
are served on threads, so concurrent requests reach a function concurrently.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ulid import ULID

from local_stack.invoke import invoke
from local_stack.template import ACCOUNT_ID, FunctionSpec, Route

# API Gateway refuses payloads above 10 MB before any function runs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# Bodies API Gateway passes as text; anything else arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def api_gateway_event(route: Route, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str, path_parameters: dict[str, str]) -> dict[str, Any]:
    url = urlsplit(target)
    merged: dict[str, str] = {}
    for name, value in headers:  # repeated headers are joined with commas, as API Gateway does
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
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


def http_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """A function's return value → status, headers, body (payload format 2.0 rules)."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for cookie in result.get("cookies") or []:
            headers.setdefault("Set-Cookie", cookie)
        return int(result["statusCode"]), headers, raw
    return 200, {"Content-Type": "application/json"}, json.dumps(result).encode("utf-8")


class Gateway:
    def __init__(self, routes: list[Route], functions: dict[str, FunctionSpec], host: str = "127.0.0.1", port: int = 3000, log=sys.stderr) -> None:
        self.routes = routes
        self.functions = functions
        self.log = log
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
                event = api_gateway_event(route, self.command, self.path, list(self.headers.items()), body, self.client_address[0], parameters)
                try:
                    status, headers, payload = http_response(invoke(gateway.functions[route.function_id], event))
                except Exception:
                    traceback.print_exc(file=gateway.log)
                    status, headers, payload = 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
                self._reply(status, headers, payload, started, route.function_id)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def _reply(self, status: int, headers: dict[str, str], payload: bytes, started: float, function: str = "-") -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                elapsed = (time.perf_counter() - started) * 1000
                print(f"{self.command} {urlsplit(self.path).path} → {function} {status} {elapsed:.0f} ms", file=gateway.log, flush=True)

            def log_message(self, format: str, *args: Any) -> None:  # our own line above replaces it
                pass

        return Handler
