"""What the handlers tell operators, caught in-process: the Powertools logger's records (with
their structured keys) and the metrics flushed as CloudWatch embedded metric format."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class Telemetry(logging.Handler):
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._capsys = capsys
        self._metrics: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, message: str) -> list[dict[str, Any]]:
        """The structured lines logged as ``message``: their keys, level and exception."""
        return [
            {**vars(r), "level": r.levelname} for r in self.records if r.getMessage() == message
        ]

    def metrics(self) -> Counter[str]:
        """Every metric flushed so far, summed by name."""
        for line in self._capsys.readouterr().out.splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if not isinstance(document, dict) or "_aws" not in document:
                continue
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    values = document[metric["Name"]]
                    self._metrics[metric["Name"]] += sum(
                        values if isinstance(values, list) else [values]
                    )
        return self._metrics


@contextmanager
def caught_telemetry(capsys: pytest.CaptureFixture[str]) -> Iterator[Telemetry]:
    """Records every line of the service's logger (INFO and up) while the block runs."""
    service_logger = logging.getLogger("journeys")
    telemetry = Telemetry(capsys)
    level = service_logger.level
    service_logger.addHandler(telemetry)
    service_logger.setLevel(logging.INFO)
    try:
        yield telemetry
    finally:
        service_logger.removeHandler(telemetry)
        service_logger.setLevel(level)
