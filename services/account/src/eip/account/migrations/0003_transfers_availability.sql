-- Whether a connection's deposits and withdrawals can be read. A key that reads balances and
-- trades but may not read the venue's transfers (no wallet-read permission) leaves the
-- connection live: only this part is unavailable, with a machine-readable reason
-- (permission_denied) and the venue's words; NULL while transfers are read (or not tried yet).
ALTER TABLE connections
    ADD COLUMN transfers_unavailable text,
    ADD COLUMN transfers_detail text;
