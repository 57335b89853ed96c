"""Entry point: `kubeface processor` or `python -m processor`."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import replace

from kubeface import malloc
from kubeface.db import Database
from kubeface.logs import configure_logging
from kubeface.memory_debug import start_memory_reporter
from kubeface.outcomes import OutcomePublisher
from kubeface.recognizer_breaker import connect_with_breaker
from kubeface.settings import Settings, load_settings
from processor.announce import OutcomeAnnouncer
from processor.consumer import ImageConsumer
from processor.handler import MYSQL_ROWS, HandlerConfig
from processor.health import Readiness, health_app

log = logging.getLogger(__name__)


async def run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    memory_reporter = start_memory_reporter(settings.memory_debug_seconds)
    trimmer = None
    if settings.processor_malloc_trim_seconds > 0:
        trimmer = asyncio.create_task(malloc.trim_every(settings.processor_malloc_trim_seconds))
    readiness = Readiness()
    http_server = health_app(readiness).listen(settings.processor_metrics_port, address=settings.bind_host)
    db = Database(settings)
    await loop.run_in_executor(None, db.wait_until_reachable)
    recognizer = connect_with_breaker(settings)
    outcomes = OutcomePublisher(settings.nsqd_http_address, settings.nsq_outcomes_topic)
    await loop.run_in_executor(None, outcomes.ensure_topic)
    consumer = ImageConsumer(
        topic=settings.nsq_topic,
        channel=settings.nsq_channel,
        lookupd_http_addresses=settings.nsqlookupd_http_addresses,
        workers=settings.processor_workers,
        db=db,
        recognizer=recognizer,
        config=HandlerConfig(
            max_attempts=settings.processor_max_attempts,
            lease_seconds=settings.processor_lease_seconds,
            breaker_requeue_delay_seconds=settings.breaker_requeue_delay_seconds,
            gallery_catch_up_seconds=settings.gallery_catch_up_seconds,
        ),
        msg_timeout_seconds=settings.nsq_msg_timeout_seconds,
        rows=replace(MYSQL_ROWS, announce=OutcomeAnnouncer(db, outcomes)),
    )
    readiness.ready = True
    log.info(
        "processor consuming", extra={"workers": settings.processor_workers, "topic": settings.nsq_topic}
    )
    await stop.wait()
    readiness.ready = False
    log.info("SIGTERM: stopping")
    await consumer.drain()
    recognizer.close()
    outcomes.close()
    db.close()
    http_server.stop()
    if trimmer is not None:
        trimmer.cancel()
    if memory_reporter is not None:
        memory_reporter.stop()
    log.info("processor stopped")


def limit_malloc_arenas(settings: Settings) -> None:
    """Few arenas for many threads: memory one thread frees is reused by the others.

    Called before any thread starts, since glibc fixes the limit when a thread first needs an arena.
    """
    if settings.processor_malloc_arenas and not malloc.limit_arenas(settings.processor_malloc_arenas):
        log.warning("malloc arena limit not applied (not glibc?)")


def main() -> None:
    settings = load_settings()
    configure_logging("processor", settings.log_level)
    limit_malloc_arenas(settings)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
