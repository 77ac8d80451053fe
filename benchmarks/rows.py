"""The one row shape every benchmark returns."""

from __future__ import annotations

from typing import TypedDict


class Row(TypedDict):
    figure: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str


def row(
    figure: str,
    value: float,
    unit: str,
    target: str,
    baseline: float | None = None,
) -> Row:
    ratio = value / baseline if baseline else None
    return Row(figure=figure, value=value, unit=unit, baseline=baseline, ratio=ratio, target=target)
