"""The whole local stack: start, describe, attach to a running one, stop."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from local_stack import dynamodb_local, moto_server
from local_stack.paths import LOCAL_DIR, REPO_ROOT
from local_stack.processes import StartError, free_port, port_open, stop_process
from local_stack.resources import ensure_buckets, ensure_queues, ensure_tables, put_secret
from local_stack.stale_stacks import RecordedProcess, ServerRecord, stop_stale_stacks
from local_stack.template import REGION, Resolver, Route, Template

STATE_FILE = "stack.json"
DEFAULT_GATEWAY_PORT = 3000


def default_public_url(gateway_port: int | None = None) -> str:
    """SWITCHBOARD_PUBLIC_URL when set, else the gateway's own address."""
    configured = os.environ.get("SWITCHBOARD_PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    port = gateway_port or int(os.environ.get("PORT") or DEFAULT_GATEWAY_PORT)
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Endpoints:
    dynamodb_port: int
    moto_port: int

    def environment(self) -> dict[str, str]:
        """What points boto3 at the local stack: endpoints and throwaway credentials."""
        moto = f"http://127.0.0.1:{self.moto_port}"
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{self.dynamodb_port}",
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": f"http://127.0.0.1:{self.dynamodb_port}",
            "AWS_ENDPOINT_URL_S3": moto,
            "AWS_ENDPOINT_URL_SQS": moto,
            "AWS_ENDPOINT_URL_SES": moto,
            "AWS_ENDPOINT_URL_SSM": moto,
            "AWS_ENDPOINT_URL_CLOUDFORMATION": moto,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }


# The local stack's Twilio auth token unless TWILIO_AUTH_TOKEN is set. It guards
# nothing (the local stack listens on 127.0.0.1 only); being fixed lets the sample
# events in events/ carry signatures that verify out of the box.
DEFAULT_LOCAL_AUTH_TOKEN = "0123456789abcdef0123456789abcdef"


# Parameters whose deployed default is "off", switched on for the local stack.
LOCAL_SUPPORT_EMAIL = "support@switchboard.example"
LOCAL_X_ACCOUNT_ID = "1500000000000000001"
LOCAL_X_USERNAME = "switchboardhq"
LOCAL_PARAMETERS = {
    "SupportEmailAddress": LOCAL_SUPPORT_EMAIL,
    "XSupportAccount": f"{LOCAL_X_ACCOUNT_ID}:{LOCAL_X_USERNAME}",
    # Nothing leaves the machine: SMS, email and X are kept in the table's outbox
    # (`switchboard local outbox`).
    "SmsDelivery": "outbox",
    "EmailDelivery": "outbox",
    # No CloudWatch locally: the alarms have nobody to reach.
    "AlarmEmail": "none",
    "XDelivery": "outbox",
    # Notices are paced as deployed, a little faster: local tests and demos wait less.
    "SmsRatePerSecond": "10",
    "XRatePerSecond": "5",
}
LOCAL_X_BEARER_TOKEN = "local-x-bearer-token"
# The secret in the local Statuspage webhook URL: POST /webhooks/statuspage/<this>.
LOCAL_STATUSPAGE_SECRET = "local-statuspage-secret"


def seed_sample_mail(s3: Any, bucket: str) -> None:
    """Put events/email_inbound.eml where SES's S3 action would have, under the id the
    sample event names, so `local invoke EmailFunction -e events/email_inbound.json` works."""
    event = json.loads((REPO_ROOT / "events" / "email_inbound.json").read_text())
    ses_message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    raw = (REPO_ROOT / "events" / "email_inbound.eml").read_bytes()
    s3.put_object(Bucket=bucket, Key=f"inbound/{ses_message_id}", Body=raw)


def local_auth_token(state_dir: Path) -> str:
    """TWILIO_AUTH_TOKEN when set, else the token in state_dir (the default, written once)."""
    configured = os.environ.get("TWILIO_AUTH_TOKEN")
    if configured:
        return configured
    path = state_dir / "twilio-auth-token"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(DEFAULT_LOCAL_AUTH_TOKEN + "\n")
    return path.read_text().strip()


def local_overrides(template: Template, pairs: list[str]) -> dict[str, str]:
    """`local up --parameter-overrides`: the template's checks, and PublicUrl refused: the
    local stack's public URL is what Twilio signs locally, SWITCHBOARD_PUBLIC_URL."""
    overrides = template.parameter_overrides(pairs)
    if "PublicUrl" in overrides:
        raise ValueError("PublicUrl: the local stack takes its public URL from SWITCHBOARD_PUBLIC_URL (signatures are checked against it); set that instead")
    return overrides


class LocalStack:
    """DynamoDB Local (data under state_dir) and moto's endpoints, with template.yaml's resources."""

    def __init__(
        self, state_dir: Path = LOCAL_DIR, public_url: str | None = None, template: Template | None = None,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.template = template or Template()
        # The local stack's values (LOCAL_PARAMETERS) and the user's --parameter-overrides over them.
        self.parameters = {**LOCAL_PARAMETERS, **(overrides or {})}
        self.overrides = dict(overrides or {})
        self.public_url = public_url or default_public_url()
        self.endpoints: Endpoints | None = None
        self._dynamodb = None
        self._moto = None
        self._record: ServerRecord | None = None

    def start(self) -> "LocalStack":
        # The template's Rules hold locally too: parameters CloudFormation would refuse start nothing.
        failures = self.resolver().rule_failures()
        if failures:
            raise StartError("the template's Rules refuse these parameters: " + "; ".join(failures))
        # A stack whose owner was killed must not share the database files with this one.
        for line in stop_stale_stacks(self.state_dir):
            print(line, file=sys.stderr, flush=True)
        self.endpoints = Endpoints(free_port(), free_port())
        self._record = ServerRecord(self.state_dir)
        try:
            self.start_dynamodb()
            self._moto = moto_server.start(self.endpoints.moto_port, self.state_dir / "logs" / "moto.log")
            self._record_servers()
            os.environ.update(self.endpoints.environment())
            self.provision()
        except BaseException:
            self.stop()
            raise
        return self

    def provision(self) -> None:
        """Tables, buckets, queues and the secrets, as template.yaml declares them."""
        import boto3

        ensure_tables(boto3.client("dynamodb"), self.template)
        ensure_buckets(boto3.client("s3"), self.template, self.resolver())
        ensure_queues(boto3.client("sqs"), self.template, self.resolver())
        names = self.resolver().names
        put_secret(boto3.client("ssm"), names["TwilioAuthTokenParameterName"], self.auth_token)
        seed_sample_mail(boto3.client("s3"), names["MailBucket"])
        # Locally X is replayed through intercepted HTTP (`local send mention`); any token does.
        put_secret(boto3.client("ssm"), names["XBearerTokenParameterName"], LOCAL_X_BEARER_TOKEN)
        put_secret(boto3.client("ssm"), names["StatuspageSecretParameterName"], LOCAL_STATUSPAGE_SECRET)

    @property
    def auth_token(self) -> str:
        return local_auth_token(self.state_dir)

    def resolver(self) -> Resolver:
        return Resolver(self.template, self._parameter_values())

    def http_routes(self) -> list[Route]:
        return self.template.http_routes(self._parameter_values())

    def _parameter_values(self) -> dict[str, str]:
        return {"PublicUrl": self.public_url, **self.parameters}

    def function_environment(self) -> dict[str, str]:
        """Every function's environment, resolved; all functions share one process locally."""
        resolver = self.resolver()
        merged: dict[str, str] = {}
        for spec in self.template.functions().values():
            merged.update({name: str(resolver.resolve(value)) for name, value in spec.environment.items()})
        return merged

    def stop_dynamodb(self) -> None:
        """Stop DynamoDB Local alone (tests of outages and persistence)."""
        stop_process(self._dynamodb)
        self._dynamodb = None
        self._record_servers()

    @contextmanager
    def dynamodb_frozen(self) -> Iterator[None]:
        """DynamoDB Local paused (SIGSTOP): it still accepts connections but answers
        nothing, as a stalled store does (tests of time limits)."""
        import signal

        pid = self._dynamodb.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def start_dynamodb(self) -> None:
        """Start DynamoDB Local on the same port and data as before."""
        assert self.endpoints is not None
        self._dynamodb = dynamodb_local.start(self.state_dir / "dynamodb", self.endpoints.dynamodb_port, self.state_dir / "logs" / "dynamodb.log")
        self._record_servers()

    def _record_servers(self) -> None:
        if self._record is not None:
            self._record.write({"DynamoDB Local": self._dynamodb, "moto server": self._moto})

    def write_state(self, gateway_port: int | None) -> Path:
        assert self.endpoints is not None and self._record is not None
        path = self.state_dir / STATE_FILE
        owner = self._record.owner  # read once at start: the same process and start time
        state = {
            "pid": owner.pid, "pid_started": owner.started, "gateway_port": gateway_port, "public_url": self.public_url,
            "parameter_overrides": self.overrides, **asdict(self.endpoints),
        }
        path.write_text(json.dumps(state, indent=2) + "\n")
        return path

    def stop(self) -> None:
        stop_process(self._moto)
        stop_process(self._dynamodb)
        self._moto = self._dynamodb = None
        if self._record is not None:
            self._record.remove()
        state = self.state_dir / STATE_FILE
        if state.exists() and _read_state(state).get("pid") == os.getpid():
            state.unlink()


def _read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def running_state(state_dir: Path = LOCAL_DIR) -> dict[str, Any] | None:
    """What a `make run` that is up now wrote about itself (ports, public URL), if any.

    Its process must still run: servers a killed `make run` left behind are not a stack
    to attach to (the next start stops them).
    """
    state = _read_state(state_dir / STATE_FILE)
    if not state or RecordedProcess("owner", state["pid"], state.get("pid_started", 0)).running() is None:
        return None
    if port_open(state["dynamodb_port"]) and port_open(state["moto_port"]):
        return state
    return None


@contextmanager
def attached(state_dir: Path = LOCAL_DIR, public_url: str | None = None) -> Iterator[LocalStack]:
    """Use the running local stack, or start one on the same data for this command only.

    Either way the process environment then points boto3 at it and carries the
    functions' resolved environment.
    """
    state = running_state(state_dir)
    # A command beside `local up` runs the functions with the parameters `local up` was given.
    stack = LocalStack(
        state_dir, public_url=public_url or (state or {}).get("public_url"),
        overrides=(state or {}).get("parameter_overrides"),
    )
    started = state is None
    if started:
        stack.start()
    else:
        stack.endpoints = Endpoints(state["dynamodb_port"], state["moto_port"])
        os.environ.update(stack.endpoints.environment())
    os.environ.update(stack.function_environment())
    try:
        yield stack
    finally:
        if started:
            stack.stop()
