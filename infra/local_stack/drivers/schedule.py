"""Schedules (`Type: Schedule` and `ScheduleV2`) → the function, on the clock, as EventBridge does.

rate(...) fully; cron(...) at minute resolution with *, ?, lists, ranges, steps and
names, in ScheduleExpressionTimezone (L, W and # are not supported locally: such a
schedule runs only on tick()); at(...) once. A rate fires first one period after
start(). The event is EventBridge Scheduler's (ScheduleV2) or EventBridge's (Schedule),
or the Input when one is given. State/Enabled are resolved with the template's
conditions; a value that cannot be resolved locally counts as ENABLED (and says so).
Invocations are not retried (RetryPolicy is ignored); errors are logged.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from local_stack.drivers.lambda_json import iso
from local_stack.drivers.properties import resolved, truthy
from local_stack.drivers.runner import Call, FunctionRunner
from local_stack.drivers.schedule_expressions import AtTiming, CronTiming, RateTiming, UnsupportedLocally, parse_schedule_expression
from local_stack.template import ACCOUNT_ID, REGION, FunctionSpec, Resolver


class ScheduleSource:
    """One `Type: Schedule` (EventBridge rule) or `Type: ScheduleV2` (EventBridge Scheduler) event."""

    kind = "schedule"

    def __init__(self, spec: FunctionSpec, event_name: str, event_type: str, properties: dict[str, Any], resolver: Resolver, runner: FunctionRunner) -> None:
        self.function = spec
        self.event_name = event_name
        self.runner = runner
        self.scheduler = event_type == "ScheduleV2"
        self.name = resolved(resolver, properties, "Name") or f"{spec.logical_id}{event_name}"
        self.group = resolved(resolver, properties, "GroupName", "default")
        self.expression = str(resolved(resolver, properties, "ScheduleExpression" if self.scheduler else "Schedule"))
        zone = ZoneInfo(resolved(resolver, properties, "ScheduleExpressionTimezone", "UTC"))
        self.label = f"schedule {self.name}"
        self.input = resolved(resolver, properties, "Input")
        self.enabled, self.note = _schedule_state(properties, resolver)
        try:
            self.timing: RateTiming | CronTiming | AtTiming | None = parse_schedule_expression(self.expression, zone)
        except UnsupportedLocally as error:
            self.timing = None
            self.note = "; ".join(filter(None, [self.note, f"{error}: it runs on tick() only"]))

    def describe(self) -> str:
        state = "" if self.enabled else " DISABLED"
        note = f" ({self.note})" if self.note else ""
        return f"{self.label} {self.expression} → {self.function.logical_id}{state}{note}"

    def start(self, now: datetime) -> None:
        if self.timing:
            self.timing.start(now)

    def poll(self, now: datetime) -> bool:
        due = self.timing.due(now) if (self.timing and self.enabled) else None
        if due is None:
            return False
        self.fire(due)
        return True

    def fire(self, at: datetime) -> Call:
        call = self.runner.call(self.function, self.event(at))
        self.runner.report(self.label, self.function, call)
        return call

    def event(self, at: datetime) -> Any:
        """The Input when given, else the scheduled event EventBridge sends."""
        if self.input is not None:
            try:
                return json.loads(self.input)
            except (TypeError, ValueError):
                return self.input
        if self.scheduler:
            resource = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{self.group}/{self.name}"
            source, detail = "aws.scheduler", "{}"  # Scheduler sends detail as a JSON string
        else:
            resource = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.name}"
            source, detail = "aws.events", {}
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": source,
            "account": ACCOUNT_ID,
            "time": iso(at),
            "region": REGION,
            "resources": [resource],
            "detail": detail,
        }


def _schedule_state(properties: dict[str, Any], resolver: Resolver) -> tuple[bool, str | None]:
    """(enabled, note). State (ScheduleV2, Schedule) or Enabled (Schedule); unresolvable → ENABLED."""
    try:
        state = resolver.resolve(properties.get("State"))
        enabled = resolver.resolve(properties.get("Enabled"))
    except (KeyError, ValueError, TypeError) as error:
        return True, f"State not resolvable locally ({error}): treated as ENABLED"
    if isinstance(state, (dict, list)) or isinstance(enabled, (dict, list)):
        return True, "State not resolvable locally: treated as ENABLED"
    if state is not None:
        return str(state).upper() != "DISABLED", None
    if enabled is not None:
        return truthy(enabled), None
    return True, None
