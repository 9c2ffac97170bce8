"""The market-data service. Its capability lands with issue: market-data service; today it runs the
standard service shell: settings, logs, metrics, health and readiness of its dependencies."""

__version__ = "0.1.0"
