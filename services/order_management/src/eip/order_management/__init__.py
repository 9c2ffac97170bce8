"""The order-management service. Its capability lands with a later issue; today it runs the
standard service shell: settings, logs, metrics, health and readiness of its dependencies."""

__version__ = "0.1.0"
