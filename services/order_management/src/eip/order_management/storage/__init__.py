"""The service's PostgreSQL: orders and their events (``orders``), the outbox of venue calls and
event records (``outbox``), partition leases (``leases``), emulated triggers (``triggers``) and
risk state (``risk``), over one ``Database``."""

from eip.order_management.storage.database import MIGRATIONS, Database
from eip.order_management.storage.leases import Fenced, Leases
from eip.order_management.storage.orders import Change, CommandRow, OrderRepository
from eip.order_management.storage.outbox import Outbox, OutboxRow

__all__ = [
    "MIGRATIONS",
    "Change",
    "CommandRow",
    "Database",
    "Fenced",
    "Leases",
    "OrderRepository",
    "Outbox",
    "OutboxRow",
]
