"""Logging of the long-running commands (worker, publisher, watcher): one format, quiet libraries.

Our own lines are ``key=value`` where they carry numbers (a batch, a watch pass), so that a log
shipper can read them without a parser of its own.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MissingTopicNotice(logging.Filter):
    """kafka-python logs ``ERROR Topic ... not found in cluster metadata`` at every metadata refresh while a
    topic does not exist; at start-up that is normal (the broker creates it at the first message, when
    auto.create.topics.enable is on). One INFO per topic instead, that says so and what to do otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self._told: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith("Topic %s not found") and record.args):
            return True
        topic = str(record.args[0] if isinstance(record.args, tuple) else record.args)
        if topic in self._told:
            return False
        self._told.add(topic)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg = ("topic %s does not exist yet: it will be created by the broker at the first message "
                      "(auto.create.topics.enable); where that is off, create it with kafka-topics.sh --create")
        record.args = (topic,)
        return True


class OneLineLibraryErrors(logging.Filter):
    """A library's error logged with its traceback (kafka-python 3 logs a socket read racing its own close at
    shutdown with ``log.exception``) becomes one line, the exception's type and message after the text: the
    traceback is the library's business, shown at DEBUG only. eiso's own errors keep theirs."""

    LIBRARIES = ("kafka",)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in self.LIBRARIES and record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(level: str) -> None:
    """The process's logging at ``level`` (DEBUG, INFO, WARNING...): SpiffWorkflow's per-task lines
    (``spiff.task: State changed to ...``, thousands per simulated month) only at DEBUG; kafka-python's
    warnings and errors only."""
    name = level.upper()
    logging.basicConfig(level=name, format=FORMAT)
    debug = logging.getLevelName(name) == logging.DEBUG
    logging.getLogger("spiff").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)  # even at DEBUG: every fetch would be a line
    if not debug:
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, OneLineLibraryErrors) for f in handler.filters):
                handler.addFilter(OneLineLibraryErrors())
    cluster = logging.getLogger("kafka.cluster")
    if not any(isinstance(f, MissingTopicNotice) for f in cluster.filters):
        cluster.addFilter(MissingTopicNotice())
