"""Makes this service's tests a package of its own name (``order_management.tests``) for pytest's
importlib mode: several services have test packages, and each named plainly ``tests`` took
the others' helpers and conftest."""
