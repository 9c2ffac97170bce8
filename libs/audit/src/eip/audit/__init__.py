"""The platform's audit trail: hash-chained events in PostgreSQL, mirrored to Kafka.

    trail = AuditTrail("audit", producer)
    async with conn.transaction():
        ...  # the change being audited
        entry = await trail.append(conn, actor=..., action=..., subject=...)
    await trail.publish([entry])

``python -m eip.audit verify --schema audit`` checks the chain (exit 1 at the first broken link);
``python -m eip.audit compare --schema audit`` checks it against its Kafka copy, which also
finds a truncated tail or a rewritten chain (exit 1 at the first difference).
"""

from eip.audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    BrokenLink,
    canonical_bytes,
    compute_hash,
    verify_chain,
)
from eip.audit.trail import MIGRATIONS, AuditDraft, AuditQuery, AuditTrail, to_proto

__all__ = [
    "GENESIS_HASH",
    "MIGRATIONS",
    "AuditDraft",
    "AuditEntry",
    "AuditQuery",
    "AuditTrail",
    "BrokenLink",
    "canonical_bytes",
    "compute_hash",
    "to_proto",
    "verify_chain",
]
