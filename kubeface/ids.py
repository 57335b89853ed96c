"""Row ids as clients send them in query strings, forms and paths."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # ids are BIGINT UNSIGNED; nothing larger is ever issued
_MAX_DIGITS = len(str(MAX_ID))


def id_from_text(text: str) -> int | None:
    """The id `text` spells in ASCII digits, or None when it spells none (signs, "²", "1e3",
    more than an id's digits: Python's int() itself refuses strings past 4,300 digits)."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"  # "007" is 7, as int() reads it
    if len(digits) > _MAX_DIGITS:
        return None
    value = int(digits)
    return value if value <= MAX_ID else None
