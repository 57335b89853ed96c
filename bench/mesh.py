"""The whole system on loopback for the benchmarks, started with the test suite's harness."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql

from tests.conftest import Mesh, _start_mesh
from tests.photos import populate_image_root
from tests.servers import ServerProcess


@contextmanager
def running_mesh(work: Path) -> Iterator[Mesh]:
    """MariaDB, nsqlookupd, nsqd and the four services; all stopped on exit."""
    shutil.rmtree(work, ignore_errors=True)
    log_dir, image_root = work / "logs", work / "images"
    log_dir.mkdir(parents=True)
    image_root.mkdir()
    populate_image_root(image_root)
    started: list[ServerProcess] = []
    services: dict[str, ServerProcess] = {}
    steps = _start_mesh(work, log_dir, image_root, started, services)
    try:
        yield next(steps)
    finally:
        for proc in [*services.values(), *reversed(started)]:
            try:
                proc.stop(timeout=30)
            except Exception:  # noqa: BLE001 - keep stopping the others; stop() already killed it
                proc.kill()


def restart(mesh: Mesh, name: str, **env: str) -> float:
    """Stop a service if it runs and start it again with `env`; seconds until it was ready."""
    if name in mesh.services and mesh.services[name].running:
        mesh.stop(name)
    started = time.perf_counter()
    mesh.start(name, env=env or None)
    return time.perf_counter() - started


def admin_connection(mesh: Mesh) -> pymysql.connections.Connection:
    return pymysql.connect(**mesh.db_params, cursorclass=pymysql.cursors.DictCursor, autocommit=True)


def copies(mesh: Mesh, folder: str, names: list[str], count: int) -> list[str]:
    """`count` distinct paths (copies of the photos, round-robin), so no post is a duplicate."""
    target = mesh.image_root / folder
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        source = mesh.image_root / names[i % len(names)]
        name = f"{i:05d}-{source.name}"
        shutil.copyfile(source, target / name)
        paths.append(f"{folder}/{name}")
    return paths
