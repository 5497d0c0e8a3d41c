"""`make test-clock`: the whole test suite with the wall clock at the moments that break
date code: a year ahead, just before a daylight-saving change, a leap day, New Year's Eve.

Every moment is computed from today, so this run finds tomorrow's time bombs whenever it
is repeated. Each run shifts every Python process the suite starts by the same offset
(shifted_clock/sitecustomize.py). Run it before a release; CI runs plain `make test`.

    python infra/test_clock.py [MOMENT ...] [-- PYTEST ARGS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIFTED_CLOCK = Path(__file__).with_name("shifted_clock")
# The zone whose change the DST run crosses; the suite runs in that zone too, so code that
# reads the machine's local time would show it.
DST_ZONE = "America/New_York"
# Start this long before the moment itself, so the run crosses it.
LEAD = timedelta(minutes=3)


@dataclass(frozen=True)
class Moment:
    name: str
    description: str
    at: datetime
    time_zone: str = "UTC"


def next_dst_change(zone: ZoneInfo, after: datetime) -> datetime:
    """The first instant after `after` where the zone's UTC offset changes."""
    hour = after.replace(minute=0, second=0, microsecond=0)
    offset = hour.astimezone(zone).utcoffset()
    for _ in range(24 * 400):
        following = hour + timedelta(hours=1)
        if following.astimezone(zone).utcoffset() != offset:
            minute = hour
            while (minute + timedelta(minutes=1)).astimezone(zone).utcoffset() == offset:
                minute += timedelta(minutes=1)
            return minute + timedelta(minutes=1)
        hour = following
    raise ValueError(f"{zone.key} has no daylight-saving change within 400 days")


def next_date(month: int, day: int, after: datetime) -> datetime:
    """Midnight UTC starting the next day that is `month`/`day` (29 February: a leap year's)."""
    year = after.year
    while True:
        try:
            candidate = datetime(year, month, day, tzinfo=timezone.utc)
        except ValueError:  # no 29 February this year
            year += 1
            continue
        if candidate > after:
            return candidate
        year += 1


def moments(now: datetime) -> list[Moment]:
    leap_day = next_date(2, 29, now)
    new_year_eve = next_date(12, 31, now)
    dst = next_dst_change(ZoneInfo(DST_ZONE), now)
    return [
        Moment("year-ahead", "400 days from now", now + timedelta(days=400)),
        Moment("dst", f"{LEAD.seconds // 60} min before {DST_ZONE} changes its clocks ({dst:%Y-%m-%d %H:%M}Z), in that zone", dst - LEAD, DST_ZONE),
        Moment("leap-day", f"the end of 29 February {leap_day.year}, into 1 March", leap_day + timedelta(days=1) - LEAD),
        Moment("new-year", f"the end of 31 December {new_year_eve.year}, into the new year", new_year_eve + timedelta(days=1) - LEAD),
    ]


def run(moment: Moment, pytest_args: list[str]) -> int:
    offset = (moment.at - datetime.now(timezone.utc)).total_seconds()
    env = {
        **os.environ,
        "SHIFTED_CLOCK_OFFSET": f"{offset:.3f}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SHIFTED_CLOCK), os.environ.get("PYTHONPATH")])),
        "TZ": moment.time_zone,
    }
    print(f"\n=== {moment.name}: the clock starts at {moment.at:%Y-%m-%d %H:%M:%S}Z ({moment.description})", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=REPO_ROOT, env=env)


def main(argv: list[str]) -> int:
    chosen, pytest_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    available = moments(datetime.now(timezone.utc))
    names = [m.name for m in available]
    unknown = [name for name in chosen if name not in names]
    if unknown:
        print(f"unknown moment {', '.join(unknown)}; choose from {', '.join(names)}", file=sys.stderr)
        return 2
    selected = [m for m in available if not chosen or m.name in chosen]
    results = []
    for moment in selected:
        started = time.monotonic()
        code = run(moment, pytest_args)
        results.append((moment, code, time.monotonic() - started))
    print("\nshifted-clock runs:")
    for moment, code, seconds in results:
        print(f"  {moment.name:<11} {moment.at:%Y-%m-%d %H:%M}Z  {'passed' if code == 0 else f'FAILED (exit {code})':<16} {seconds / 60:.1f} min")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
