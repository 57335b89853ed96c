"""POST /image/upload: the photo's bytes instead of a path, stored in IMAGE_ROOT/uploads/ and queued.

The body is read chunk by chunk and written straight to temporary files (kubeface/uploads.py),
never held whole in memory; a body past UPLOAD_MAX_BYTES, a non-image or a client that goes
away mid-body leaves no file and no row behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks
from starlette.requests import ClientDisconnect

from kubeface.audit import AuditAction, AuditEntry
from kubeface.uploads import (
    StoredUpload,
    UploadRejected,
    UploadStore,
    UploadTooLarge,
    UploadWriter,
    not_an_image_message,
)
from receiver.auth import actor_of
from receiver.errors import ApiError
from receiver.routes import posted_answer
from receiver.state import ReceiverState

log = logging.getLogger(__name__)

router = APIRouter()

UPLOAD_PATH = "/image/upload"
FILE_FIELD = b"file"


_BINARY = {"schema": {"type": "string", "format": "binary"}}
# The body is read by hand (streamed), so FastAPI cannot describe it: say what it takes.
_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "array", "items": _BINARY["schema"]}},
                "required": ["file"],
            }
        },
        "image/*": _BINARY,
    },
}


@router.post(
    UPLOAD_PATH,
    status_code=202,
    responses={200: {"description": "The same bytes were known"}},
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def upload_image(request: Request) -> JSONResponse:
    """Store and queue `multipart/form-data` files (field `file`) or a raw `image/*` body."""
    state: ReceiverState = request.app.state.receiver
    store = state.uploads
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > store.max_bytes:
        raise _too_large(store)
    media_type, options = parse_options_header(request.headers.get("content-type"))
    writers: list[UploadWriter] = []
    try:
        if media_type == b"multipart/form-data" and options.get(b"boundary"):
            await _read_multipart(request, store, options[b"boundary"], writers)
        elif media_type.startswith(b"image/"):
            writers.append(await run_in_threadpool(store.writer))
            await _read_raw(request, writers[0])
        else:
            raise ApiError(
                415, f"send multipart/form-data (field 'file') or an image/* body; {not_an_image_message()}"
            )
        stored = [await run_in_threadpool(writer.commit) for writer in writers]
    except UploadRejected as exc:
        raise ApiError(415, str(exc)) from exc
    except UploadTooLarge as exc:
        raise _too_large(store) from exc
    except MultipartParseError as exc:
        raise ApiError(400, f"the multipart body is malformed ({exc}); send a well-formed form") from exc
    except ClientDisconnect as exc:  # an answer no one reads, but not a 500: the client went away
        log.info("upload abandoned by the client mid-body; nothing stored")
        raise ApiError(400, "the body ended before it was complete; nothing was stored") from exc
    finally:
        for writer in writers:
            await run_in_threadpool(writer.discard)
    return await _queue(state, stored, actor_of(request))


def _too_large(store: UploadStore) -> ApiError:
    return ApiError(
        413, f"the upload is larger than {store.max_bytes} bytes (UPLOAD_MAX_BYTES); send a smaller file"
    )


async def _read_raw(request: Request, writer: UploadWriter) -> None:
    async for chunk in request.stream():
        if chunk:
            await run_in_threadpool(writer.write, chunk)


async def _read_multipart(
    request: Request, store: UploadStore, boundary: bytes, writers: list[UploadWriter]
) -> None:
    """Stream the parts into writers (appended as they start, so the caller can discard them all)."""
    part = _PartHandler(store, writers.append)
    parser = MultipartParser(boundary, part.callbacks())
    async for chunk in request.stream():
        if chunk:
            await run_in_threadpool(parser.write, chunk)
    parser.finalize()
    if parser.state != MultipartState.END:
        raise ApiError(400, "the multipart body ended before its closing boundary; send the whole form")
    if not writers:
        raise ApiError(422, "no file in the form; send the image in a field named 'file'")


class _PartHandler:
    """python-multipart callbacks: each part named `file` goes to a new UploadWriter; others are skipped."""

    def __init__(self, store: UploadStore, started: Callable[[UploadWriter], None]) -> None:
        self._store = store
        self._started = started
        self._field = b""
        self._value = b""
        self._disposition = b""
        self._writer: UploadWriter | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._disposition, self._writer = b"", None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        if params.get(b"name") == FILE_FIELD:
            self._writer = self._store.writer()
            self._started(self._writer)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._writer is not None:
            self._writer.write(data[start:end])


async def _queue(state: ReceiverState, stored: list[StoredUpload], actor: str) -> JSONResponse:
    """Insert and publish like /image/post; one file answers like it, several like /images/post.
    Each new file is recorded in the audit log, in the transaction that stores its row."""
    audits: list[AuditEntry | None] = [
        AuditEntry(actor, AuditAction.UPLOAD, details={"path": one.relative_path, "sha256": one.sha256})
        for one in stored
    ]
    posted = await state.ingest.post([one.relative_path for one in stored], audits)
    bodies = [{**posted_answer(p), "path": s.relative_path} for s, p in zip(stored, posted, strict=True)]
    for body in bodies:
        log.info("image uploaded", extra={"image_id": body["id"], "path": body["path"]})
    if len(bodies) == 1:
        return JSONResponse(bodies[0], status_code=202 if posted[0].created else 200)
    return JSONResponse({"accepted": len(bodies), "refused": 0, "results": bodies})
