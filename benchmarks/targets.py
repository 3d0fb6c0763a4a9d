"""One checked target of an issue, as the report's tables show it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    target: str
    met: bool | None  # None: could not be measured in this run
    measured: str
