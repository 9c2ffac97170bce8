"""A local exchange for offline development and tests.

The core (instruments, accounts, matching, market feed, faults) knows no exchange's dialect;
each dialect (``binance``) is a protocol layer that translates requests into core calls and
core events into that exchange's wire format.
"""

__version__ = "0.1.0"
