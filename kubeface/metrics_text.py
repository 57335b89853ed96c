"""The samples a snapshot needs from a Prometheus text exposition (what /metrics answers).

Not prometheus_client's parser: importing it (the whole client) and parsing every family of a
/metrics page was a tenth of `kubeface status` (issue 15), which reads five sample names. A unit
test checks that both read the same samples.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import NamedTuple

# name{label="value",...} value [timestamp]; label values escape \\, \" and \n.
_LINE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPE = re.compile(r'\\[\\"n]')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float


class MalformedMetrics(ValueError):
    """A line of a wanted sample is not in the text exposition format."""


def read_samples(text: str, names: Collection[str]) -> list[Sample]:
    """The samples named in `names` (full sample names: `x_total`, `y_count`), in page order."""
    samples = []
    for line in text.splitlines():
        # Cheap test first: most lines of a /metrics page are other samples or comments.
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in names:
            samples.append(_sample(line))
    return samples


def _sample(line: str) -> Sample:
    match = _LINE.fullmatch(line)
    if match is None:
        raise MalformedMetrics(f"not a metrics sample line: {line!r}")
    name, label_text, value = match.groups()
    return Sample(name, _labels(label_text or "", line), _number(value, line))


def _labels(text: str, line: str) -> dict[str, str]:
    labels = {}
    position = 0
    for label in _LABEL.finditer(text):
        if label.start() != position:
            break
        labels[label.group(1)] = _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], label.group(2))
        position = label.end()
    if text[position:].strip():
        raise MalformedMetrics(f"unreadable labels in metrics line: {line!r}")
    return labels


def _number(value: str, line: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise MalformedMetrics(f"not a number in metrics line: {line!r}") from exc
