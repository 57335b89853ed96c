"""Property-based tests of the receiver's path validation."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeface.paths import PathRejected, resolve_image_path

# Path-like text: separators, dots, backslashes, NULs and any Unicode, biased towards traversal.
_PIECES = st.sampled_from(["..", ".", "/", "\\", "a", "known", "%2e%2e", "\x00", "~", " ", "é😀"])
PATHS = st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=12).map("".join))


@settings(max_examples=400, deadline=None)
@given(raw=PATHS)
def test_an_accepted_path_always_lands_inside_the_root(tmp_path_factory, raw):
    root = tmp_path_factory.getbasetemp() / "prop-root"
    (root / "known").mkdir(parents=True, exist_ok=True)
    try:
        resolved = resolve_image_path(root, raw)
    except PathRejected as rejected:
        assert str(rejected)  # every refusal says why
        return
    real_root = Path(os.path.realpath(root))
    assert resolved.absolute.is_relative_to(real_root)
    assert not resolved.relative.startswith("/") and ".." not in resolved.relative.split("/")
    # The stored form is canonical: posting it again finds the same row.
    assert resolve_image_path(root, resolved.relative).relative == resolved.relative
