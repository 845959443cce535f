"""A library's error with a traceback is one line in the logs of eiso's commands; eiso's own keep theirs."""

from __future__ import annotations

import logging
import sys

from engine.cli.logs import OneLineLibraryErrors


def _record(name: str) -> logging.LogRecord:
    try:
        raise AttributeError("'NoneType' object has no attribute 'recv'")
    except AttributeError:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, "%s: Error receiving network data", ("<T>",),
                                 sys.exc_info())


def test_kafka_pythons_traceback_becomes_one_line() -> None:
    record = _record("kafka.net.transport")
    assert OneLineLibraryErrors().filter(record)
    line = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == ("ERROR kafka.net.transport: <T>: Error receiving network data "
                    "(AttributeError: 'NoneType' object has no attribute 'recv')")
    assert "Traceback" not in line


def test_eisos_own_errors_keep_their_traceback() -> None:
    record = _record("eiso.worker")
    assert OneLineLibraryErrors().filter(record)
    assert "Traceback" in logging.Formatter().format(record)
