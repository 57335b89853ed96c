"""Real servers for the tests, each started privately on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
# The tests' own MySQL account, with every privilege (tests/conftest.py creates it).
TESTS_ACCOUNT = {"MYSQL_USER": "kubeface", "MYSQL_PASSWORD": "test-secret"}


def as_tests_account(database: str) -> dict[str, str]:
    """The environment of a command run as the tests' account on `database`."""
    return {**TESTS_ACCOUNT, "MYSQL_DATABASE": database}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: ServerProcess | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; log:\n{proc.log_tail()}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet; keep polling until the deadline
            pass
        time.sleep(0.1)
    tail = proc.log_tail() if proc else ""
    raise TimeoutError(f"{what} not ready after {timeout}s\n{tail}")


def find_binary(name: str) -> str:
    for candidate in (REPO / ".bin" / name, Path("/usr/sbin") / name, Path("/usr/bin") / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed; run `make deps`")
    return found


class ServerProcess:
    """A child process with its output in a log file; stopped with SIGTERM, or killed."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.popen = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO, start_new_session=True
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then wait; SIGKILL if it does not exit in time."""
        if not self.running:
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.running:
            self.popen.kill()
            self.popen.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_mariadb(
    workdir: Path, log_dir: Path, extra_args: tuple[str, ...] = ()
) -> tuple[ServerProcess, int, Path]:
    """A fresh MariaDB on a free loopback port; `extra_args` are more mariadbd options."""
    datadir, sock = workdir / "data", workdir / "mysqld.sock"
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(
        [
            find_binary("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--user={user}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = ServerProcess(
        "mariadb",
        [
            find_binary("mariadbd"),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={sock}",
            f"--pid-file={workdir / 'mysqld.pid'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--user={user}",
            "--innodb-flush-log-at-trx-commit=2",
            "--innodb-buffer-pool-size=128M",
            "--max-connections=500",
            *extra_args,
        ],
        log_dir,
    ).start()
    wait_until(lambda: sock.exists() and mysql_root(sock, "SELECT 1") is not None, 60, "mariadb", proc)
    return proc, port, sock


def mysql_root(sock: Path, sql: str) -> str:
    result = subprocess.run(
        [find_binary("mariadb"), "--no-defaults", "-uroot", f"--socket={sock}", "-N", "-e", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def start_nsq(workdir: Path, log_dir: Path) -> dict[str, object]:
    lookupd_tcp, lookupd_http = free_port(), free_port()
    nsqd_tcp, nsqd_http = free_port(), free_port()
    lookupd = ServerProcess(
        "nsqlookupd",
        [
            find_binary("nsqlookupd"),
            f"-tcp-address=127.0.0.1:{lookupd_tcp}",
            f"-http-address=127.0.0.1:{lookupd_http}",
        ],
        log_dir,
    ).start()
    wait_until(
        lambda: httpx.get(f"http://127.0.0.1:{lookupd_http}/ping").status_code == 200,
        30,
        "nsqlookupd",
        lookupd,
    )
    data = workdir / "nsqd"
    data.mkdir(parents=True, exist_ok=True)
    nsqd = ServerProcess(
        "nsqd",
        [
            find_binary("nsqd"),
            f"-data-path={data}",
            f"-tcp-address=127.0.0.1:{nsqd_tcp}",
            f"-http-address=127.0.0.1:{nsqd_http}",
            f"-lookupd-tcp-address=127.0.0.1:{lookupd_tcp}",
            "-broadcast-address=127.0.0.1",
        ],
        log_dir,
    ).start()
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{nsqd_http}/ping").status_code == 200, 30, "nsqd", nsqd)
    return {
        "lookupd": lookupd,
        "nsqd": nsqd,
        "nsqd_tcp": nsqd_tcp,
        "nsqd_http": nsqd_http,
        "lookupd_http": lookupd_http,
    }


def kubeface_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kubeface", *args]


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MYSQL_", "NSQ", "IMAGE_ROOT", "RECOGNIZER_"))
    }
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env
