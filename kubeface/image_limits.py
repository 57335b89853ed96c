"""How large an image may be before it is refused unread: the defaults of the settings.

A module of its own so that `kubeface.settings`, which every command imports, does not import
kubeface.image_files and, through its errors, grpc (issue 15: `kubeface status` paid for it).
"""

from __future__ import annotations

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Beyond this many pixels an image is refused rather than decoded (decompression bombs).
DEFAULT_MAX_PIXELS = 80_000_000
