"""HTX sends every frame gzip-compressed; what a frame can look like, back to JSON text.

Live, and in captures that keep binary frames as binary (``b64``, read back as ``bytes``), a
frame is the gzip bytes: inflated by ``eip.exchanges.machinery.capture.binary_frame_text``, as every
reader of binary frames does. Older captures kept them as text: cryptofeed wrote the Python
``bytes`` repr (``b'\\x1f\\x8b...'``), a converter may keep that repr or the raw bytes read as
latin-1. Plain JSON text (a simulator, tests) passes through.
"""

from __future__ import annotations

import ast

from eip.exchanges.machinery.capture import GZIP_MAGIC, binary_frame_text


def frame_text(data: str | bytes) -> str:
    if isinstance(data, bytes):
        return binary_frame_text(data)
    if data[:2] in ("b'", 'b"'):
        raw = ast.literal_eval(data)
        if not isinstance(raw, bytes):
            raise ValueError(f"not a bytes literal: {data[:40]!r}")
        return binary_frame_text(raw)
    if data[:2] == GZIP_MAGIC.decode("latin-1"):
        return binary_frame_text(data.encode("latin-1"))
    return data
