"""GalleryStore with an in-memory table: a full reload never leaves requests an empty gallery."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from kubeface.encodings import encoding_to_bytes
from recognizer import gallery as gallery_module
from recognizer.gallery import GalleryStore


class FakeTable:
    """person_images joined with person, and gallery_writes.changes, answering GalleryStore's SQL."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.changes = 0
        self.on_page_read = lambda: None

    def add(self, row_id: int, person_id: int, name: str) -> None:
        encoding = np.full(128, row_id / 1000.0)
        self.rows.append(
            {
                "id": row_id,
                "person_id": person_id,
                "name": name,
                "path": "x.jpg",
                "encoding": encoding_to_bytes(encoding),
            }
        )

    @contextmanager
    def transaction(self) -> Iterator[FakeCursor]:
        yield FakeCursor(self)


class FakeCursor:
    def __init__(self, table: FakeTable) -> None:
        self.table = table
        self.result: list[dict] = []

    def execute(self, sql: str, params: tuple = ()) -> None:
        rows = self.table.rows
        if sql.startswith("SELECT COALESCE(SUM"):
            last = max((r["id"] for r in rows), default=0)
            self.result = [{"seen": sum(r["id"] <= params[0] for r in rows), "last": last}]
        elif "FROM gallery_writes" in sql:
            self.result = [{"changes": self.table.changes}]
        else:
            self.table.on_page_read()
            after, limit = params
            self.result = [r for r in rows if r["id"] > after][:limit]

    def fetchone(self) -> dict | None:
        return self.result[0] if self.result else None

    def fetchall(self) -> list[dict]:
        return self.result


def test_a_reload_after_a_rename_is_built_aside_and_swapped_in_whole():
    table = FakeTable()
    table.add(1, 1, "alice")
    table.add(2, 2, "bob")
    store = GalleryStore(table, encode_path=lambda path: np.zeros(128), image_root=None)  # type: ignore[arg-type]
    assert store.refresh() == 2
    seen_while_loading: list[int] = []
    table.on_page_read = lambda: seen_while_loading.append(len(store.gallery))
    table.rows[0]["name"] = "alice renamed"
    table.changes += 1  # what kubeface/people.py does in a rename's transaction
    assert store.refresh() == 2
    assert seen_while_loading == [2]  # requests meanwhile matched against the old gallery, not an empty one
    [match] = store.gallery.nearest([np.full(128, 0.001)])
    assert match is not None and match.person_name == "alice renamed"
    assert store.loaded_through == 2


def test_faces_read_in_many_pages_are_all_matched_and_later_ones_added(monkeypatch):
    monkeypatch.setattr(gallery_module, "REFRESH_PAGE_ROWS", 2)
    table = FakeTable()
    for row_id in range(1, 6):
        table.add(row_id, row_id, f"p{row_id}")
    store = GalleryStore(table, encode_path=lambda path: np.zeros(128), image_root=None)  # type: ignore[arg-type]
    assert store.refresh() == 5
    table.add(6, 6, "p6")
    assert store.refresh() == 1
    for row_id in range(1, 7):
        [match] = store.gallery.nearest([np.full(128, row_id / 1000.0)])
        assert match is not None and (match.person_image_id, match.distance < 1e-6) == (row_id, True)
    assert store.loaded_through == 6
