"""Record raw exchange traffic and replay it offline through the live adapter code.

The capture format (``data/recorded/README.md``) is read and written by
``eip.exchanges.machinery.capture``, shared with the market-data replay.
``RecordingTransport`` wraps the live transport and writes every REST body and frame it
passes; ``ReplayTransport`` serves a capture through the same ``Transport`` calls. The command
line is in ``cli`` (``python -m eip.order_book.capture``).
"""

from eip.exchanges.machinery.recording import RecordingTransport
from eip.exchanges.machinery.replay_transport import ReplayTransport

__all__ = ["RecordingTransport", "ReplayTransport"]
