"""A uvicorn server that tells the app about SIGTERM at once, before it waits for requests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import FrameType

import uvicorn


class NotifyingServer(uvicorn.Server):
    """Calls `on_exit` on the event loop when a stop signal arrives.

    uvicorn waits for open requests before the app's shutdown runs; long waits and event
    streams would hold it for the whole grace period, so they are ended first.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        try:
            asyncio.get_running_loop().call_soon_threadsafe(self._on_exit)
        except RuntimeError:  # no loop running: nothing is waiting
            pass
        super().handle_exit(sig, frame)
