"""Text that clients send and the database stores."""

from __future__ import annotations

import unicodedata


class NotStorableText(ValueError):
    """Text that cannot be stored as UTF-8: it holds a lone surrogate."""


def require_utf8(text: str, what: str) -> str:
    """`text` unchanged, or NotStorableText saying where it is not valid Unicode.

    JSON's `\\udcff` escapes decode to lone surrogates, which no UTF-8 column can hold; refusing
    them here keeps one client's bad value from failing a write that other requests share.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotStorableText(
            f"{what} holds a lone surrogate (U+{ord(text[exc.start]):04X} at character {exc.start}),"
            " which is not valid Unicode; send it as UTF-8 text"
        ) from exc
    return text


def require_name(text: str, what: str) -> str:
    """A name shown on pages and printed by the CLI: UTF-8 text without control characters.

    A newline or an escape sequence in a person's name would rewrite an operator's terminal
    (`kubeface status`, log tails) or split a line of output; a name never needs one.
    """
    require_utf8(text, what)
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            raise NotStorableText(
                f"{what} holds a control character (U+{ord(char):04X} at character {index});"
                " send printable text"
            )
    return text


def shown(text: str, limit: int = 200) -> str:
    """A client's text, cut to `limit` characters, safe to echo in a JSON answer or a log line."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
