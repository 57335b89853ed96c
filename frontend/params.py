"""The frontend's query and form values, checked: a malformed one is a 400 that names it, never a 500."""

from __future__ import annotations

from kubeface.ids import MAX_ID, id_from_text
from kubeface.images import ImageStatus

MAX_SEARCH_CHARS = 200


class BadParameter(ValueError):
    """A query or form value that cannot be used; the message names it and says what it must be."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def optional_id(name: str, value: str) -> int | None:
    """An id from a query or form value; empty means none. Only ASCII digits: "²".isdigit() is true."""
    if value == "":
        return None
    found = id_from_text(value)
    if found is None:
        raise BadParameter(name, f"must be an id, a whole number from 0 to {MAX_ID}; got {_shown(value)}")
    return found


def required_id(name: str, value: str) -> int:
    found = optional_id(name, value)
    if found is None:
        raise BadParameter(name, "is missing")
    return found


def optional_status(value: str) -> ImageStatus | None:
    if value == "":
        return None
    if value not in ImageStatus.__members__:
        choices = ", ".join(status.value for status in ImageStatus)
        raise BadParameter("status", f"must be one of {choices} (or empty for any); got {_shown(value)}")
    return ImageStatus(value)


def search_text(value: str) -> str | None:
    """The search box's text, stripped; empty means no search."""
    if len(value) > MAX_SEARCH_CHARS:
        raise BadParameter("q", f"must be at most {MAX_SEARCH_CHARS} characters; got {len(value)}")
    return value.strip() or None
