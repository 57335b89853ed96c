"""What the subcommands share: the receiver client, paths under the image root, output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported by the commands that call the receiver, when they do: httpx (with rich and click)
    # is a third of a command that doesn't, such as `kubeface status` (issue 15).
    import httpx

    from kubeface.settings import Settings

# The formats the recognizer decodes (kubeface/image_formats.py); HEIC/HEIF and AVIF are phones'.
IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".bmp",
    ".webp",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".avif",
}

# Exit codes, the same for every command.
OK, FAILED, UNREACHABLE, TIMED_OUT = 0, 1, 2, 3


class CommandError(Exception):
    """Stops a command with a message that says what to do, and an exit code."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


def receiver_client(settings: Settings, url: str | None, timeout: float = 120.0) -> httpx.Client:
    """A client for the receiver's API, sending API_TOKEN as the bearer when it is set."""
    import httpx

    headers = {}
    if settings.api_token is not None:
        headers["authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    base = url or f"http://127.0.0.1:{settings.receiver_port}"
    return httpx.Client(base_url=base.rstrip("/"), headers=headers, timeout=timeout)


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    import httpx

    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise CommandError(
            f"the receiver at {client.base_url} is unreachable ({exc}); start it or pass --receiver-url",
            UNREACHABLE,
        ) from exc
    if response.status_code == 401:
        raise CommandError("the receiver refused the token: set API_TOKEN to the receiver's token")
    return response


def error_of(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error") or response.text)
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"


def to_root_relative(arg: str, root: Path) -> str:
    """A local file under the image root becomes its relative path; anything else is sent as
    given (relative to IMAGE_ROOT), and the receiver says why if it is refused."""
    local = Path(arg)
    if local.exists():
        real = local.resolve()
        if real.is_relative_to(root):
            return real.relative_to(root).as_posix()
        if not (root / arg).exists():
            raise CommandError(f"{arg} is not under IMAGE_ROOT ({root}); copy it there or set IMAGE_ROOT")
    return arg


def expand(args: Iterable[str], root: Path) -> list[str]:
    """Files as given; folders (on this machine, or under the image root) walked for pictures."""
    found: list[str] = []
    for arg in args:
        folder = Path(arg) if Path(arg).is_dir() else root / arg
        if folder.is_dir():
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames.sort()
                found += [
                    to_root_relative(str(Path(dirpath) / name), root)
                    for name in sorted(filenames)
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES
                ]
        else:
            found.append(to_root_relative(arg, root))
    return found


def print_json(value: object) -> None:
    print(json.dumps(value, default=str))  # noqa: T201 - a command's result, for scripts


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """A plain aligned table, readable in a terminal and in cron mail."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())  # noqa: T201
        if n == 0:
            print("  ".join("-" * width for width in widths))  # noqa: T201


def say(message: str) -> None:
    print(message, file=sys.stderr)  # noqa: T201 - progress and errors go to stderr
