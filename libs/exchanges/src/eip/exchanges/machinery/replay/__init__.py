"""Replaying recorded exchange captures through the live adapters' parse code."""

from eip.exchanges.machinery.capture import Capture, CaptureError, Frame, read_capture
from eip.exchanges.machinery.replay.run import Replay, replay

__all__ = ["Capture", "CaptureError", "Frame", "Replay", "read_capture", "replay"]
