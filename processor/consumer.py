"""NSQ glue: a pynsq Reader feeding a pool of worker threads, finishing only after commit."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import nsq
from prometheus_client import Gauge, Histogram

from kubeface.db import Database
from kubeface.logs import new_request_id, request_id_var
from kubeface.queue import ImageMessage
from kubeface.recognizer_client import RecognizerClient
from processor.handler import MYSQL_ROWS, Finish, HandlerConfig, ImageRows, Outcome, Requeue, handle_image

log = logging.getLogger(__name__)

IN_FLIGHT = Gauge("processor_in_flight", "Messages being processed")
HANDLING_SECONDS = Histogram(
    "processor_message_seconds",
    "Time from taking a message to settling it",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)

# nsqd refuses a requeue delay above its --max-req-timeout (default one hour).
MAX_REQUEUE_DELAY_SECONDS = 3600

# nsqd's smallest allowed value (its --min-output-buffer-timeout): see ImageConsumer.
OUTPUT_BUFFER_TIMEOUT_MS = 25


class ImageConsumer:
    """Reads image ids from NSQ; at most `workers` are processed at once."""

    def __init__(
        self,
        *,
        topic: str,
        channel: str,
        lookupd_http_addresses: list[str],
        workers: int,
        db: Database,
        recognizer: RecognizerClient,
        config: HandlerConfig,
        msg_timeout_seconds: float,
        rows: ImageRows = MYSQL_ROWS,
    ) -> None:
        self._db = db
        self._rows = rows
        self._recognizer = recognizer
        self._config = config
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="worker")
        self._in_flight: set[asyncio.Future] = set()
        self._reader = nsq.Reader(
            topic=topic,
            channel=channel,
            message_handler=self._on_message,
            lookupd_http_addresses=lookupd_http_addresses,
            lookupd_poll_interval=5,
            max_in_flight=workers,
            max_tries=0,  # never "give up" on a message silently; the database decides
            msg_timeout=msg_timeout_seconds,
            # nsqd holds messages for a consumer in a buffer until it fills or this timeout
            # passes (250 ms by default): at a few images per second that was most of the
            # idle latency. Each message is ~100 ms of recognition, so flushing often is cheap.
            output_buffer_timeout=OUTPUT_BUFFER_TIMEOUT_MS,
        )

    def _on_message(self, message: nsq.Message) -> None:
        message.enable_async()
        decoded = ImageMessage.decode(message.body)
        if decoded is None:
            # A poison message would be redelivered forever; nothing can ever process it.
            log.error(
                "message body is not an image id; dropped",
                extra={"body": message.body[:100].decode("utf-8", "replace")},
            )
            message.finish()
            return
        image_id = decoded.image_id
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._handle, decoded)
        self._in_flight.add(future)
        IN_FLIGHT.set(len(self._in_flight))
        started = time.perf_counter()
        future.add_done_callback(lambda f: self._settle(message, image_id, f, started))

    def _handle(self, message: ImageMessage) -> Outcome:
        # Worker threads do not inherit the loop's context; bind the request id here.
        token = request_id_var.set(message.request_id or new_request_id())
        try:
            return handle_image(message.image_id, self._db, self._recognizer, self._config, self._rows)
        finally:
            request_id_var.reset(token)

    def _settle(self, message: nsq.Message, image_id: int, future: asyncio.Future, started: float) -> None:
        HANDLING_SECONDS.observe(time.perf_counter() - started)
        self._in_flight.discard(future)
        IN_FLIGHT.set(len(self._in_flight))
        try:
            outcome: Outcome = future.result()
        except Exception as exc:
            # Database down or a bug: the row stays as it was, so let NSQ deliver it again.
            log.exception("handling failed; message requeued", extra={"image_id": image_id})
            outcome = Requeue(min(2.0**message.attempts, 60.0), f"error: {type(exc).__name__}")
        if isinstance(outcome, Finish):
            message.finish()
        else:
            delay_ms = int(min(outcome.delay_seconds, MAX_REQUEUE_DELAY_SECONDS) * 1000)
            message.requeue(backoff=False, time_ms=delay_ms)
            log.info(
                "message requeued",
                extra={"image_id": image_id, "reason": outcome.reason, "delay_ms": delay_ms},
            )

    async def drain(self) -> None:
        """Stop taking messages, let the ones in flight finish and settle, then disconnect."""
        self._reader.set_max_in_flight(0)
        pending = list(self._in_flight)
        log.info("draining", extra={"in_flight": len(pending)})
        if pending:
            await asyncio.wait(pending)
        await asyncio.sleep(0.1)  # let the FIN/REQ frames reach nsqd
        self._reader.close()
        self._pool.shutdown(wait=True)
