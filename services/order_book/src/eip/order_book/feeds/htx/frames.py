"""HTX sends every frame gzip-compressed; what a frame's text can look like, back to JSON.

Live frames are binary gzip. Captures keep them as text: cryptofeed wrote the Python ``bytes``
repr (``b'\\x1f\\x8b...'``), a converter may keep that repr or the raw bytes read as latin-1.
Plain JSON text (a simulator, tests) passes through.
"""

from __future__ import annotations

import ast
import gzip

GZIP_MAGIC = b"\x1f\x8b"


def frame_text(data: str) -> str:
    if data[:2] in ("b'", 'b"'):
        raw = ast.literal_eval(data)
        if not isinstance(raw, bytes):
            raise ValueError(f"not a bytes literal: {data[:40]!r}")
        return gzip.decompress(raw).decode() if raw[:2] == GZIP_MAGIC else raw.decode()
    if data[:2] == GZIP_MAGIC.decode("latin-1"):
        return gzip.decompress(data.encode("latin-1")).decode()
    return data
