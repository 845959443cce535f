"""Produce JSON Lines case events to Kafka, keyed by case id, from a test: the dashboards' live test passes
its own producer and topic, mid-stream, week by week.

Users put events on the topic with ``eiso simulate | eiso events produce -`` (engine/cli/events.py), which
also refuses a file that is not case events; this dev tool sends every non-blank line as it is.
``python -m tools.feed [FILE...]`` reads the files named (or standard input) and writes to ``EISO_KAFKA_TOPIC`` on
``EISO_KAFKA_BOOTSTRAP`` with the worker's connection settings (TLS, SASL).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any


def key_of(line: str) -> bytes | None:
    """The case id of a contract event (None when the line is not a JSON object with one)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    case_id = value.get("case_id") if isinstance(value, dict) else None
    return case_id.encode("utf-8") if isinstance(case_id, str) and case_id else None


def feed(lines: Iterable[str | bytes], settings: Any | None = None, topic: str | None = None,
         producer: Any | None = None) -> int:
    """Send every non-blank line as one message; returns the count. ``settings``: a ``KafkaSettings``."""
    if producer is None:
        from kafka import KafkaProducer

        from connectors.settings import KafkaSettings

        settings = settings or KafkaSettings()
        producer = KafkaProducer(**settings.client_config(), acks="all", linger_ms=20)
        own = True
    else:
        own = False
    target = topic or (settings.topic if settings is not None else "onestop.case-events")
    count = 0
    try:
        for raw in lines:
            line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            if not line.strip():
                continue
            body = line.rstrip("\r\n").encode("utf-8")
            producer.send(target, value=body, key=key_of(line))
            count += 1
        producer.flush(60)
    finally:
        if own:
            producer.close()
    return count


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    if not names:
        sent = feed(sys.stdin)
    else:
        sent = 0
        for name in names:
            with open(name, encoding="utf-8") as handle:
                sent += feed(handle)
    print(f"{sent} message(s) sent", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
