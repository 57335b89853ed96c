"""Recognizer processes sharing a port accept connections only once they serve."""

from __future__ import annotations

import pytest

import recognizer.__main__ as recognizer_main
from kubeface.settings import Settings


@pytest.mark.parametrize("index", [0, 1, 3])
def test_every_process_of_a_group_listens_only_once_it_serves(monkeypatch, index: int) -> None:
    """The first process used to listen while loading: once another served, the kernel could hand
    a new connection to the first, and the call on it failed "still loading" (UNAVAILABLE)."""
    seen: list[dict] = []
    monkeypatch.setattr(recognizer_main, "configure_logging", lambda *args: None)
    monkeypatch.setattr(recognizer_main, "run", lambda settings, **kwargs: seen.append(kwargs))
    recognizer_main._child(Settings(_env_file=None), index)
    assert seen == [{"reuse_port": True, "listen_early": False}]
