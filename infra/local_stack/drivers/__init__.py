"""The drivers: DynamoDB streams, SQS queues and schedules → the functions, as Lambda does.

Every function event of template.yaml of Type DynamoDB, SQS, Schedule or ScheduleV2
becomes a source here. Each reads its service with boto3 (DynamoDB Local's stream,
moto's SQS) or watches a clock, builds the event Lambda would send, and invokes the
function in this process through local_stack.invoke, as the gateway does.

One module per event source says what it supports and what it does not:
stream.py (`Type: DynamoDB`), sqs.py (`Type: SQS`) and schedule.py (`Type: Schedule`
and `ScheduleV2`; the expressions are parsed in schedule_expressions.py). Below them,
runner.py invokes the functions and records the invocations for all of them;
properties.py reads an event's Properties and lambda_json.py shapes JSON as Lambda sends it.

Drivers.start() runs one thread per source; stop() ends them within about a second.
run_once() and drain() do the same work in the caller's thread, for tests.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from datetime import datetime
from typing import Any, Callable, Iterable, TextIO

import boto3

from local_stack.drivers.runner import FunctionRunner, Invocation, Invoke, utc_now
from local_stack.drivers.schedule import ScheduleSource
from local_stack.drivers.sqs import SQS_WAIT_SECONDS, QueueSource
from local_stack.drivers.stream import STREAM_IDLE_SECONDS, StreamSource
from local_stack.invoke import invoke_within_timeout as invoke_in_process  # abandoned at Timeout, as Lambda does
from local_stack.template import FunctionSpec, Resolver, Template

__all__ = ["Drivers"]

ERROR_BACKOFF_SECONDS = 1.0

Clock = Callable[[], datetime]


class Drivers:
    """Every stream, queue and schedule of the template's functions, driving the functions."""

    def __init__(
        self,
        template: Template,
        resolver: Resolver,
        invoke: Invoke = invoke_in_process,
        *,
        only: Iterable[str] | None = None,
        clock: Clock = utc_now,
        log: TextIO = sys.stderr,
        tick_seconds: float = 1.0,
    ) -> None:
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.runner = FunctionRunner(invoke, log)
        functions = template.functions()
        wanted = set(only) if only is not None else set(functions)
        self.streams: list[StreamSource] = []
        self.queues: list[QueueSource] = []
        self.schedules: list[ScheduleSource] = []
        for spec in functions.values():
            if spec.logical_id in wanted:
                self._add_sources(spec, resolver)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connected = False

    def _add_sources(self, spec: FunctionSpec, resolver: Resolver) -> None:
        for name, properties in spec.events_of_type("DynamoDB").items():
            self.streams.append(StreamSource(spec, name, properties, resolver, self.runner))
        for name, properties in spec.events_of_type("SQS").items():
            self.queues.append(QueueSource(spec, name, properties, resolver, self.runner))
        for name, event in spec.events.items():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                self.schedules.append(ScheduleSource(spec, name, event["Type"], event.get("Properties", {}), resolver, self.runner))

    @property
    def sources(self) -> list[StreamSource | QueueSource | ScheduleSource]:
        return [*self.streams, *self.queues, *self.schedules]

    @property
    def invocations(self) -> list[Invocation]:
        return list(self.runner.history)

    def invocations_of(self, function_id: str) -> list[Invocation]:
        return [invocation for invocation in self.runner.history if invocation.function_id == function_id]

    def describe(self) -> list[str]:
        """One line per source, for a banner: what drives which function."""
        return [source.describe() for source in self.sources]

    def connect(self) -> None:
        """Look up streams and queues and take starting positions now (LATEST means from here)."""
        # One client per service, shared: creating clients is slow, and they are thread-safe.
        client = functools.cache(boto3.session.Session().client)
        for source in [*self.streams, *self.queues]:
            if source.enabled:
                source.connect(client)
        now = self.clock()
        for schedule in self.schedules:
            schedule.start(now)
        self._connected = True

    # -- background

    def start(self) -> "Drivers":
        if self._threads:
            raise RuntimeError("the drivers are running already")
        if not self._connected:
            self.connect()
        self._stopping.clear()
        loops = [(stream, lambda s=stream: s.poll(flush=False), STREAM_IDLE_SECONDS) for stream in self.streams if stream.enabled]
        loops += [(queue, lambda q=queue: q.poll(SQS_WAIT_SECONDS), 0) for queue in self.queues if queue.enabled]
        loops += [(schedule, lambda s=schedule: s.poll(self.clock()), self.tick_seconds) for schedule in self.schedules]
        for source, poll, idle in loops:
            thread = threading.Thread(target=self._loop, args=(source, poll, idle), name=f"driver {source.label}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling; returns once every poller has finished what it was doing."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        if stuck:
            self.runner.note(f"drivers: {', '.join(stuck)} still busy after {timeout:.0f} s (left as daemon threads)")
        self._threads = []

    def __enter__(self) -> "Drivers":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self, source: Any, poll: Callable[[], bool], idle_seconds: float) -> None:
        last_problem = None
        while not self._stopping.is_set():
            try:
                busy = poll()
                last_problem = None
            except Exception as error:  # DynamoDB Local or moto away: say so once, keep trying
                problem = f"{source.label} → {source.function.logical_id}: {type(error).__name__}: {error}"
                if problem != last_problem:
                    self.runner.note(f"{problem} (retrying every {ERROR_BACKOFF_SECONDS:.0f} s)")
                last_problem = problem
                self._stopping.wait(ERROR_BACKOFF_SECONDS)
                continue
            if not busy:
                self._stopping.wait(idle_seconds)

    # -- in the caller's thread (tests)

    def run_once(self) -> int:
        """One pass over every source in this thread. Returns the number of invocations."""
        before = self.runner.total
        self._pass()
        return self.runner.total - before

    def drain(self, timeout: float = 10.0) -> int:
        """Pass over the sources until none has anything left to do. Returns the invocations.

        Messages hidden by their visibility timeout are not waited for.
        """
        before = self.runner.total
        deadline = time.monotonic() + timeout
        while self._pass():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the drivers were still busy after {timeout} s")
        return self.runner.total - before

    def _pass(self) -> bool:
        if self._threads:
            raise RuntimeError("run_once()/drain() while the drivers run in the background")
        if not self._connected:
            self.connect()
        busy = False
        for stream in self.streams:
            busy |= stream.enabled and stream.poll(flush=True)
        for queue in self.queues:
            busy |= queue.enabled and queue.poll(wait_seconds=0)
        now = self.clock()
        for schedule in self.schedules:
            busy |= schedule.poll(now)
        return busy

    def tick(self, function_id: str, event_name: str | None = None) -> Any:
        """Invoke a scheduled function now, as its schedule would (disabled ones too).

        Returns the function's result; its exception propagates.
        """
        schedules = [s for s in self.schedules if s.function.logical_id == function_id and event_name in (None, s.event_name)]
        if not schedules:
            raise KeyError(f"{function_id} has no Schedule or ScheduleV2 event{f' named {event_name}' if event_name else ''}")
        if len(schedules) > 1:
            names = ", ".join(s.event_name for s in schedules)
            raise ValueError(f"{function_id} has several schedules ({names}): name one")
        call = schedules[0].fire(self.clock())
        if call.error:
            raise call.error
        return call.result
