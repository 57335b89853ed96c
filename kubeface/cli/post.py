"""`kubeface post`: queue many images through the receiver, optionally wait for the outcomes."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from kubeface.cli.common import (
    FAILED,
    IMAGE_SUFFIXES,
    OK,
    TIMED_OUT,
    CommandError,
    call,
    error_of,
    expand,
    print_json,
    print_table,
    receiver_client,
    say,
)
from kubeface.images import FINAL_STATUSES, ImageStatus
from kubeface.settings import load_settings

FINAL = {status.value for status in FINAL_STATUSES}
CHUNK = 100  # paths per POST /images/post


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    post = sub.add_parser("post", help="queue images (files or folders under IMAGE_ROOT) for recognition")
    post.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
    post.add_argument(
        "--upload",
        action="store_true",
        help="send the files' bytes (files or folders on this machine) instead of paths under IMAGE_ROOT",
    )
    post.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    post.add_argument("--wait", action="store_true", help="wait until every image is final, then summarise")
    post.add_argument("--timeout", type=float, default=600, help="seconds --wait waits at most (default 600)")
    post.add_argument("--receiver-url", help="default: http://127.0.0.1:$RECEIVER_PORT")
    post.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    post.set_defaults(func=run)


def _post_chunk(client: httpx.Client, chunk: list[str]) -> list[dict[str, Any]]:
    response = call(client, "POST", "/images/post", json={"paths": chunk})
    if not response.is_success:
        raise CommandError(f"the receiver refused a batch: {error_of(response)}")
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def _local_files(args: list[str]) -> list[Path]:
    """Files as given; folders on this machine walked for pictures."""
    found: list[Path] = []
    for arg in map(Path, args):
        if not arg.is_dir():
            found.append(arg)
            continue
        for dirpath, dirnames, filenames in os.walk(arg):
            dirnames.sort()
            found += [
                Path(dirpath) / n for n in sorted(filenames) if Path(n).suffix.lower() in IMAGE_SUFFIXES
            ]
    return found


def _upload_one(client: httpx.Client, path: Path) -> dict[str, Any]:
    """POST /image/upload with the file as the body, streamed; the receiver decides the type."""
    try:
        with path.open("rb") as body:
            response = call(
                client, "POST", "/image/upload", content=body, headers={"content-type": "image/*"}
            )
    except OSError as exc:
        return {"path": str(path), "error": f"cannot read the file: {exc.strerror}"}
    if not response.is_success:
        return {"path": str(path), "error": error_of(response)}
    answer: dict[str, Any] = response.json()
    return {**answer, "file": str(path)}


def _upload_files(client: httpx.Client, files: list[Path]) -> list[dict[str, Any]]:
    return [_upload_one(client, path) for path in files]


def _status(client: httpx.Client, image_id: int) -> dict[str, Any]:
    response = call(client, "GET", f"/image/{image_id}")
    image: dict[str, Any] = response.json() if response.is_success else {"id": image_id, "status": "UNKNOWN"}
    return image


def _wait(
    client: httpx.Client, ids: list[int], pool: ThreadPoolExecutor, timeout: float, quiet: bool
) -> dict[int, dict[str, Any]]:
    """Poll the images not yet final until all are, or the timeout passes."""
    final: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with tqdm(total=len(ids), unit="img", desc="final", disable=quiet or None) as bar:
        while len(final) < len(ids) and time.monotonic() < deadline:
            waiting = [i for i in ids if i not in final]
            for image in pool.map(lambda i: _status(client, i), waiting):
                if image["status"] in FINAL:
                    final[image["id"]] = image
                    bar.update(1)
            if len(final) < len(ids):
                time.sleep(0.5)
    return final


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    paths: list[Path] | list[str]
    requests: list[Callable[[httpx.Client], list[dict[str, Any]]]]
    if args.upload:  # one request per file; the answers are the same shape as a batch's items
        paths = _local_files(args.paths)
        requests = [partial(_upload_files, files=[path]) for path in paths]
    else:
        paths = expand(args.paths, settings.resolved_image_root)
        requests = [partial(_post_chunk, chunk=paths[i : i + CHUNK]) for i in range(0, len(paths), CHUNK)]
    if not paths:
        raise CommandError("no image files found in the given paths (looked for .jpg, .png, ...)")
    results: list[dict[str, Any]] = []
    quiet = args.json
    with (
        receiver_client(settings, args.receiver_url) as client,
        ThreadPoolExecutor(max(1, args.concurrency)) as pool,
    ):
        with tqdm(total=len(paths), unit="img", desc="posted", disable=quiet or None) as bar:
            for answered in pool.map(lambda send: send(client), requests):
                results += answered
                bar.update(len(answered))
        accepted = [r for r in results if "id" in r]
        refused = [r for r in results if "id" not in r]
        ids = sorted({r["id"] for r in accepted})
        final = _wait(client, ids, pool, args.timeout, quiet) if args.wait else {}
    summary = {
        "posted": len(accepted),
        "duplicates": sum(1 for r in accepted if r.get("duplicate")),
        "refused": refused,
        "ids": ids,
    }
    if args.wait:
        by_status = Counter(image["status"] for image in final.values())
        by_status["not final"] = len(ids) - len(final)
        summary["by_status"] = {k: v for k, v in sorted(by_status.items()) if v}
        summary["failed"] = [
            {"id": i["id"], "path": i["path"], "detail": i["detail"]}
            for i in final.values()
            if i["status"] == ImageStatus.FAILED
        ]
    _report(summary, args.json)
    if args.wait and len(final) < len(ids):
        return TIMED_OUT
    return FAILED if refused or summary.get("failed") else OK


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    print_table(
        ["posted", "new", "duplicates", "refused"],
        [
            [
                summary["posted"],
                summary["posted"] - summary["duplicates"],
                summary["duplicates"],
                len(summary["refused"]),
            ]
        ],
    )
    for item in summary["refused"]:
        say(f"refused {item['path']}: {item['error']}")
    if "by_status" in summary:
        print()  # noqa: T201
        print_table(["status", "images"], [[k, v] for k, v in summary["by_status"].items()])
        for item in summary["failed"][:20]:
            say(f"FAILED {item['id']} {item['path']}: {item['detail']}")
