"""Shift this Python process's wall clock when SHIFTED_CLOCK_OFFSET (seconds) is set.

`make test-clock` puts this directory on PYTHONPATH, so every Python process of the test
run (pytest, the `switchboard` commands it runs, `local up`, moto) starts here. Each one
adds the same offset to the real time, so they agree with each other, and the clock keeps
ticking. time.monotonic() is left alone (timeouts stay real); DynamoDB Local (Java) and
Chromium keep the real clock.
"""

import os

_offset = os.environ.get("SHIFTED_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
