-- Broker accounts and their sessions. Secrets are stored only as ciphertexts: v1 envelopes
-- (`v1.<key id>.<base64url>`) or, until migrated, the legacy Web Crypto layouts. Column names
-- follow the existing platform's broker_accounts table.

CREATE TABLE broker_accounts (
    id                    UUID PRIMARY KEY,
    user_id               UUID NOT NULL,
    broker                TEXT NOT NULL CHECK (broker IN ('angel_one', 'zerodha', 'paper')),
    api_key_encrypted     TEXT,
    api_secret_encrypted  TEXT,
    client_id_encrypted   TEXT,
    mpin_encrypted        TEXT,
    totp_secret_encrypted TEXT,
    egress_ip             INET,
    auto_execute          BOOLEAN NOT NULL DEFAULT FALSE,
    status                TEXT NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'active', 'needs_login', 'disabled')),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX broker_accounts_by_user ON broker_accounts (user_id, created_at, id);

-- The scheduler's query: accounts due for a run.
CREATE INDEX broker_accounts_due_for_run ON broker_accounts (id)
    WHERE auto_execute AND status <> 'disabled';

CREATE TABLE broker_sessions (
    account_id              UUID PRIMARY KEY REFERENCES broker_accounts (id) ON DELETE CASCADE,
    access_token_encrypted  TEXT NOT NULL,
    refresh_token_encrypted TEXT,
    feed_token_encrypted    TEXT,
    expires_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
