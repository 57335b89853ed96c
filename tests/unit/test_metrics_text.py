"""kubeface.metrics_text reads the samples prometheus_client's own parser reads."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from kubeface.metrics_text import MalformedMetrics, read_samples
from kubeface.system import PROCESSOR_SAMPLES, RECOGNIZER_SAMPLES


def _a_services_page() -> str:
    """A /metrics page as the processor's and recognizer's: their metrics among the defaults."""
    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    Gauge("processor_breaker_open", "breaker", registry=registry).set(1)
    Gauge("processor_in_flight", "in flight", registry=registry).set(3)
    messages = Counter("processor_messages", "outcomes", ["outcome"], registry=registry)
    messages.labels(outcome="processed").inc(12)
    messages.labels(outcome='odd "quoted" \\ back\nslash').inc(2)
    Gauge("recognizer_known_faces", "gallery", registry=registry).set(7)
    rpc = Histogram("recognizer_rpc_seconds", "calls", ["method", "code"], registry=registry)
    rpc.labels(method="Identify", code="NOT_FOUND").observe(0.2)
    rpc.labels(method="Identify", code="OK").observe(0.1)
    rpc.labels(method="Encode", code="INVALID_ARGUMENT").observe(float("inf"))
    return generate_latest(registry).decode()


def test_the_wanted_samples_are_those_prometheus_clients_parser_reads():
    page = _a_services_page()
    wanted = PROCESSOR_SAMPLES | RECOGNIZER_SAMPLES
    theirs = [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(page)
        for s in family.samples
        if s.name in wanted
    ]
    ours = [(s.name, s.labels, s.value) for s in read_samples(page, wanted)]
    assert ours == theirs
    assert {name for name, _, _ in ours} == wanted
    assert ("processor_messages_total", {"outcome": 'odd "quoted" \\ back\nslash'}, 2.0) in ours


@pytest.mark.parametrize(
    "line",
    ["processor_in_flight three", 'processor_messages_total{outcome="x} 1', "processor_in_flight"],
)
def test_a_malformed_wanted_line_is_refused_naming_it(line):
    with pytest.raises(MalformedMetrics, match="processor_"):
        read_samples(f"# HELP x\n{line}\n", PROCESSOR_SAMPLES)


def test_a_malformed_line_of_another_sample_is_not_read():
    assert (
        read_samples("something_else{{{ nonsense\nprocessor_in_flight 2\n", PROCESSOR_SAMPLES)[0].value == 2
    )
