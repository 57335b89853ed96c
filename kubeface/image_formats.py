"""The picture formats every reader of images decodes, and the ISO-BMFF brands that name them.

Pillow decodes JPEG, PNG, GIF, WebP, BMP, TIFF and (Pillow 13, with libavif) AVIF itself. HEIC,
what iPhones save by default, comes from pillow-heif (libheif with libde265), registered once per
process by `open_picture`, which every reader of images (the recognizer's `load_image`, the
frontend's previews and sizes) opens pictures with, so that none can miss it.

Orientation, exactly once: libheif applies a HEIF's container transforms (irot, imir) while
decoding, reports the size after them, and pillow-heif resets the EXIF orientation to 1, so
`kubeface.orientation` turns the picture no further. Pillow's AVIF reader keeps the coded pixels
and writes the container's transforms into the EXIF orientation, which `kubeface.orientation`
applies. As in Apple's and libheif's readers, a HEIC's EXIF orientation is not applied on top of
its container's.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageFile

# Pillow and libheif are imported where pictures are opened: the receiver only sniffs uploads.

# ftyp brands (ISO/IEC 23008-12 Annex B, AV1 Image File Format): HEVC-coded HEIF, and AV1.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
# The structural brands of any HEIF: the codec is then named among the compatible brands.
HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
# Enough of the ftyp box for its major brand and a dozen compatible brands.
FTYP_HEAD_BYTES = 64


def iso_bmff_type(head: bytes) -> str | None:
    """ "heic" or "avif" for a file that starts with an ftyp box naming a brand we decode, or None.

    The major brand must be one the decoders accept; the codec is the first brand naming one,
    the major brand before the compatible ones (a "mif1" file says "heic" or "avif" there).
    """
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    if box_size < 16 or major not in HEIC_BRANDS | AVIF_BRANDS | HEIF_BRANDS:
        return None
    end = min(box_size, len(head))
    compatible = [head[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in (major, *compatible):
        if brand in HEIC_BRANDS:
            return "heic"
        if brand in AVIF_BRANDS:
            return "avif"
    return None


def pixels_to_decode(img: ImageFile.ImageFile, stream: IO[bytes]) -> tuple[int, int]:
    """The width and height of the largest picture decoding `img` makes, from its header.

    For most formats its size. A HEIF's size is after its crop (clap), while libheif decodes the
    whole coded image first, which each image's spatial extents box (ispe) gives: a small crop of
    a huge coded image is a decompression bomb that the size alone hides.
    """
    if img.format != "HEIF":
        return img.size
    sizes = [img.size]
    end = stream.seek(0, io.SEEK_END)
    for meta, meta_end in _boxes_at(stream, 0, end, (b"meta",)):
        sizes += _spatial_extents(stream, meta, meta_end)
        sizes += _derived_canvases(stream, meta, meta_end)
    return max(sizes, key=lambda size: size[0] * size[1])


# Boxes side by side at one level of a HEIF that the header walk reads before refusing the file.
# A phone's photo has a handful at the top, and one infe per item (a tile of a grid: dozens; a
# large panorama's: a few hundred).
MAX_BOXES = 4096
# The boxes that lead from the meta box to each image's spatial extents (ISO/IEC 23008-12, 6.5.3).
_EXTENTS_PATH = (b"iprp", b"ipco", b"ispe")
_FULL_BOXES = {b"meta", b"ispe"}  # a version and flags (4 bytes) before their content


def _spatial_extents(stream: IO[bytes], meta: int, meta_end: int) -> list[tuple[int, int]]:
    """The (width, height) of every ispe box of a meta box; reads only box headers and those."""
    sizes = []
    for start, stop in _boxes_at(stream, meta, meta_end, _EXTENTS_PATH):
        if stop - start >= 8:
            stream.seek(start)
            data = stream.read(8)
            sizes.append((int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big")))
    return sizes


def _boxes_at(stream: IO[bytes], start: int, end: int, path: tuple[bytes, ...]) -> Iterator[tuple[int, int]]:
    """(content start, end) of each box at `path` below the range; a malformed box ends the walk
    (the decoder then refuses the file with its own reason). More than MAX_BOXES boxes side by
    side is a ValueError: no camera writes that, and a file of tiny padding boxes cost seconds of
    this walk (48 MB: 2.25 s, where libheif took 0.19 s)."""
    at, count = start, 0
    while at + 8 <= end:
        count += 1
        if count > MAX_BOXES:
            raise ValueError(f"its header holds over {MAX_BOXES} boxes side by side, which no camera writes")
        stream.seek(at)
        header = stream.read(16)
        size, kind, content = int.from_bytes(header[:4], "big"), header[4:8], at + 8
        if size == 1 and len(header) == 16:  # a 64-bit size follows the type
            size, content = int.from_bytes(header[8:], "big"), at + 16
        elif size == 0:  # the box runs to the end
            size = end - at
        if size < content - at or at + size > end:
            return
        if kind == path[0]:
            inner = content + 4 if kind in _FULL_BOXES else content
            if len(path) == 1:
                yield inner, at + size
            else:
                yield from _boxes_at(stream, inner, at + size, path[1:])
        at += size


# Derived images whose canvas size is in their own data (ISO/IEC 23008-12, 6.6.2): libheif
# allocates that canvas whole, whatever their ispe claims (it compares the two after decoding).
_CANVAS_AT = {b"grid": 4, b"iovl": 12}  # the offset of output_width after version and flags


def _derived_canvases(stream: IO[bytes], meta: int, meta_end: int) -> list[tuple[int, int]]:
    """The canvas (width, height) of every grid and overlay item of a meta box."""
    sizes = []
    derived = {item: kind for item, kind in _item_types(stream, meta, meta_end) if kind in _CANVAS_AT}
    idat = next(_boxes_at(stream, meta, meta_end, (b"idat",)), (0, 0))[0]
    for item, offset in _item_offsets(stream, meta, meta_end, idat):
        if item in derived:
            stream.seek(offset)
            data = stream.read(_CANVAS_AT[derived[item]] + 8)
            field = 4 if len(data) > 1 and data[1] & 1 else 2  # flags bit 0: 32-bit sizes
            at = _CANVAS_AT[derived[item]]
            if len(data) >= at + 2 * field:
                sizes.append((_uint(data, at, field), _uint(data, at + field, field)))
    return sizes


def _item_types(stream: IO[bytes], start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(item id, item type) of each infe (version 2 or 3) of the meta box's iinf."""
    for content, stop in _boxes_at(stream, start, end, (b"iinf",)):  # iinf, infe: full boxes
        stream.seek(content)
        count_size = 2 if stream.read(1) == b"\0" else 4
        for infe, infe_end in _boxes_at(stream, content + 4 + count_size, stop, (b"infe",)):
            stream.seek(infe)
            data = stream.read(min(16, infe_end - infe))
            id_size = {2: 2, 3: 4}.get(data[0]) if data else None
            if id_size is not None and len(data) >= 4 + id_size + 6:
                yield _uint(data, 4, id_size), data[4 + id_size + 2 : 4 + id_size + 6]


def _item_offsets(stream: IO[bytes], start: int, end: int, idat: int) -> Iterator[tuple[int, int]]:
    """(item id, where its data starts in the file) of each item of the meta box's iloc that is
    stored in the file (construction method 0) or in the idat box (1)."""
    for content, stop in _boxes_at(stream, start, end, (b"iloc",)):
        stream.seek(content)
        fields = _Fields(stream.read(stop - content))
        try:
            version = fields.take(1)
            fields.take(3)  # flags
            sizes = fields.take(2)
            offset_size, length_size, base_size = sizes >> 12, sizes >> 8 & 15, sizes >> 4 & 15
            index_size = sizes & 15 if version in (1, 2) else 0
            for _ in range(fields.take(2 if version < 2 else 4)):
                item = fields.take(2 if version < 2 else 4)
                method = fields.take(2) & 15 if version in (1, 2) else 0
                fields.take(2)  # data_reference_index
                base = fields.take(base_size)
                offsets = []
                for _ in range(fields.take(2)):
                    fields.take(index_size)
                    offsets.append(fields.take(offset_size))
                    fields.take(length_size)
                if method in (0, 1):
                    yield item, base + (offsets[0] if offsets else 0) + (idat if method == 1 else 0)
        except _Truncated:
            return  # libheif refuses the file with its own reason


class _Truncated(Exception):
    """A box shorter than its own fields."""


class _Fields:
    """Big-endian unsigned fields read one after another from a box's bytes."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def take(self, size: int) -> int:
        if self._at + size > len(self._data):
            raise _Truncated
        self._at += size
        return _uint(self._data, self._at - size, size)


def _uint(data: bytes, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "big")


@functools.cache
def register_formats() -> None:
    """Register pillow-heif's HEIF reader with Pillow (once; later calls do nothing)."""
    # Imported here: a process pays for libheif only when it opens a picture.
    from pillow_heif import register_heif_opener

    # Depth and auxiliary images (portrait mode's depth map, HDR gain map) are never used.
    register_heif_opener(depth_images=False, aux_images=False)


def open_picture(stream: IO[bytes]) -> ImageFile.ImageFile:
    """`PIL.Image.open` with every format the system reads: the header is read, nothing decoded.

    A HEIC or AVIF that its reader refuses raises UnidentifiedImageError with that reader's reason
    (a truncated file, a broken box) rather than Pillow's "cannot identify image file".
    """
    from PIL import Image, UnidentifiedImageError

    register_formats()
    try:
        return Image.open(stream)
    except UnidentifiedImageError as exc:
        reason = _reader_refusal(stream)
        if reason is None:
            raise
        raise UnidentifiedImageError(reason) from exc


def _reader_refusal(stream: IO[bytes]) -> str | None:
    """Why the reader of this ISO-BMFF picture refuses it; None for any other file."""
    stream.seek(0)
    kind = iso_bmff_type(stream.read(FTYP_HEAD_BYTES))
    if kind is None:
        return None
    from PIL import AvifImagePlugin
    from pillow_heif import HeifImageFile

    reader = HeifImageFile if kind == "heic" else AvifImagePlugin.AvifImageFile
    stream.seek(0)
    try:
        reader(stream).close()
    except (SyntaxError, ValueError, OSError, EOFError, RuntimeError) as exc:
        return f"not a readable {kind.upper()} file: {str(exc).strip()}"
    return None
