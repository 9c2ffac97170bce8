"""Pre-trade risk: denial codes, limits per scope, the kill switch, the anomaly guard, and the
engine that runs the checks (``engine.py``)."""
