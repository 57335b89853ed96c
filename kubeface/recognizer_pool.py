"""Several connections to the recognizer, each call sent to the least busy server process.

Recognizer processes sharing one port (SO_REUSEPORT) are balanced by the kernel per
*connection*, and a gRPC channel keeps one HTTP/2 connection per address: through one channel,
every call of a processor reached the same process and the other cores idled. So a client opens
several channels, learns from each reply which process answered (SERVER_HEADER), and sends each
call where the fewest of its calls are in flight.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from typing import Any

from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from kubeface.recognizer_channel import recognizer_channel

# Initial metadata of every Identify and Encode reply: which server process answered.
SERVER_HEADER = "kubeface-recognizer-server"


def server_identity() -> str:
    """This process, as SERVER_HEADER names it: host and pid."""
    return f"{socket.gethostname()}/{os.getpid()}"


class RecognizerConnections:
    """`count` channels to `address`; thread-safe."""

    def __init__(self, address: str, count: int) -> None:
        self.channels = [recognizer_channel(address, own_connections=True) for _ in range(count)]
        self._stubs = [pb_grpc.RecognizerStub(c) for c in self.channels]  # type: ignore[no-untyped-call]
        self._in_flight = [0] * count
        self._server: list[str | None] = [None] * count  # learned from the replies
        self._served: Counter[str] = Counter()
        self._next = 0
        self._lock = threading.Lock()

    def call(self, method: str, request: object, **kwargs: Any) -> Any:
        """`stub.<method>(request, **kwargs)` on the least busy process's channel; its reply."""
        index = self._take()
        try:
            reply, call = getattr(self._stubs[index], method).with_call(request, **kwargs)
        finally:
            with self._lock:
                self._in_flight[index] -= 1
        server = dict(call.initial_metadata() or ()).get(SERVER_HEADER)
        with self._lock:
            self._server[index] = server  # a reconnect may have reached another process
            self._served[server or "?"] += 1
        return reply

    def _take(self) -> int:
        with self._lock:
            load: Counter[str | None] = Counter()
            for server, busy in zip(self._server, self._in_flight, strict=True):
                load[server] += busy
            count = len(self._stubs)

            def busyness(i: int) -> tuple[int, int, int]:
                # A channel whose process is not known yet counts alone: calls find out.
                server = self._server[i]
                shared = load[server] if server is not None else self._in_flight[i]
                return shared, self._in_flight[i], (i - self._next) % count

            index = min(range(count), key=busyness)
            self._in_flight[index] += 1
            self._next = (index + 1) % count
            return index

    def calls_by_server(self) -> dict[str, int]:
        """Calls answered so far, per server process."""
        with self._lock:
            return dict(self._served)

    def close(self) -> None:
        for channel in self.channels:
            channel.close()
