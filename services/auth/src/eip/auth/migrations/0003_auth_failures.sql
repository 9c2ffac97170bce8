-- Failed authentications per source, shared by every instance of the service so the lockout
-- budget is exact however many instances run. One row per source holding the times of its
-- most recent failures (at most failure_limit + 1, oldest first, PostgreSQL's clock), so a row
-- has a bounded size; rows whose newest failure left the window are pruned on write and by a
-- periodic cleanup, which also caps the number of rows.
CREATE TABLE auth_failures (
    source text PRIMARY KEY,
    failed_at timestamptz[] NOT NULL,
    last_failed_at timestamptz NOT NULL
);
CREATE INDEX auth_failures_last ON auth_failures (last_failed_at);
