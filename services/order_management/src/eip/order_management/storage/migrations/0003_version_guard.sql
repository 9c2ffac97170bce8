-- The version guard of an order's projection raises instead of answering, so a transaction's
-- writes and its COMMIT travel in one round trip (the ledger's pipeline mode,
-- docs/ORDER_MANAGEMENT.md): an order that moved since it was read fails its update on the
-- server, which aborts the transaction, and the COMMIT behind it rolls back.
-- serialization_failure: the ledger runs the transaction again, reading the order afresh.
-- search_path is fixed to the schema this is created in (the migration's).
CREATE FUNCTION expect_one(changed bigint, order_id uuid, from_version integer) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF changed <> 1 THEN
        RAISE EXCEPTION 'order % changed since version %', order_id, from_version
            USING ERRCODE = '40001';
    END IF;
END $$;
