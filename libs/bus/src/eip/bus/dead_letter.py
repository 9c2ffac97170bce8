"""Dead-letter records: the source record's bytes unchanged, the reason in headers."""

from __future__ import annotations

import time

from eip.bus.codec import Headers

REASON = "dlq.reason"
ERROR_TYPE = "dlq.error.type"
SOURCE_TOPIC = "dlq.source.topic"
SOURCE_PARTITION = "dlq.source.partition"
SOURCE_OFFSET = "dlq.source.offset"
CONSUMER_GROUP = "dlq.consumer.group"
FAILED_AT_MS = "dlq.failed.at.ms"

_MAX_REASON_BYTES = 2000


def dead_letter_headers(
    original: Headers,
    *,
    reason: str,
    error_type: str,
    topic: str,
    partition: int,
    offset: int,
    group: str,
) -> Headers:
    kept = [(k, v) for k, v in original if not k.startswith("dlq.")]
    return [
        *kept,
        (REASON, reason.encode()[:_MAX_REASON_BYTES]),
        (ERROR_TYPE, error_type.encode()),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(partition).encode()),
        (SOURCE_OFFSET, str(offset).encode()),
        (CONSUMER_GROUP, group.encode()),
        (FAILED_AT_MS, str(int(time.time() * 1000)).encode()),
    ]
