-- Exchange credential metadata. The secret material is in Vault only
-- (<credentials_path>/<account_id>/<id>); nothing here is secret.
CREATE TABLE credentials (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    exchange text NOT NULL,
    label text NOT NULL DEFAULT '',
    permissions text[] NOT NULL,
    ip_restricted boolean NOT NULL,
    withdrawal_override boolean NOT NULL DEFAULT false,
    status text NOT NULL CHECK (status IN ('active', 'revoked')),
    vault_version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_validated_at timestamptz,
    last_used_at timestamptz,
    last_rotated_at timestamptz,
    revoked_at timestamptz,
    expiring_alerted_at timestamptz
);
CREATE INDEX credentials_account ON credentials (account_id, exchange);

-- Service clients that may ask for tokens. The secret is stored as a scrypt hash only.
CREATE TABLE clients (
    client_id text PRIMARY KEY,
    secret_hash text NOT NULL,
    scopes text[] NOT NULL,
    accounts text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled boolean NOT NULL DEFAULT false
);
