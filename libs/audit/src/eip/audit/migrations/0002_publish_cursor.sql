-- How far the Kafka copy (audit.events.v1) has been published: the relay advances it only
-- after the broker acknowledged, so an outage delays the copy instead of losing it.
CREATE TABLE audit_publish_cursor (
    id integer PRIMARY KEY CHECK (id = 1),
    last_sequence bigint NOT NULL
);
INSERT INTO audit_publish_cursor VALUES (1, 0);
