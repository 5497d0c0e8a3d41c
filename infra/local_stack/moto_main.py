"""moto's server (local S3, SQS, SES, SSM), with one fix: SQS sends that stay fast
however deep the queue.

moto 5.x rebuilds a queue's whole attribute dict on every SendMessage just to read
ContentBasedDeduplication, and three of those attributes count every queued message,
so each send costs in proportion to the queue's depth: a fan-out of 10,000 notices
took about 20 minutes instead of 10 s (tests/bench/notices.py, figure h). Here a
queue's attributes are a read-only mapping that computes only the keys read; what
GetQueueAttributes returns is unchanged.

Run as a script: python moto_main.py -H 127.0.0.1 -p PORT (moto.server's arguments).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, Iterator


def patch_sqs_queue_attributes() -> None:
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs import models

    class LazyAttributes(Mapping):
        def __init__(self, queue: Any) -> None:
            self._queue = queue
            names = [*queue.BASE_ATTRIBUTES, *(queue.FIFO_ATTRIBUTES if queue.fifo_queue else ()), *(queue.KMS_ATTRIBUTES if queue.kms_master_key_id else ())]
            names += ["Policy"] if queue.policy else []
            names += ["RedrivePolicy"] if queue.redrive_policy else []
            self._names = dict.fromkeys(names)
            self._values: dict[str, Any] = {}

        def __getitem__(self, name: str) -> Any:
            if name not in self._names:
                raise KeyError(name)
            if name not in self._values:
                if name == "Policy":
                    value = self._queue.policy
                elif name == "RedrivePolicy":
                    value = json.dumps(self._queue.redrive_policy)
                else:
                    value = getattr(self._queue, camelcase_to_underscores(name))
                self._values[name] = str(value).lower() if isinstance(value, bool) else value
            return self._values[name]

        def __iter__(self) -> Iterator[str]:
            return iter(self._names)

        def __len__(self) -> int:
            return len(self._names)

    models.Queue.attributes = property(LazyAttributes)


if __name__ == "__main__":
    from moto.server import main

    patch_sqs_queue_attributes()
    main(sys.argv[1:])
