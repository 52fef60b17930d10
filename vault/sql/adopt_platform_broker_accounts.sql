-- Adopts the platform's existing `broker_accounts` table (Supabase: user_id,
-- api_key_encrypted, api_secret_encrypted and the platform's own columns such as id, broker,
-- created_at, is_active) in place: every row and every column stays; what migration
-- 20261128000001 would have created is added, and that migration is then recorded as applied
-- (see PostgresBackend::from_pool). The later migrations run as usual: they close the table to
-- Supabase's client roles and record nothing else.
--
-- No broker CHECK is added: the platform may still insert rows, and the values were checked
-- before this ran.

ALTER TABLE broker_accounts
    ADD COLUMN IF NOT EXISTS client_id_encrypted   TEXT,
    ADD COLUMN IF NOT EXISTS mpin_encrypted        TEXT,
    ADD COLUMN IF NOT EXISTS totp_secret_encrypted TEXT,
    ADD COLUMN IF NOT EXISTS egress_ip             INET,
    ADD COLUMN IF NOT EXISTS auto_execute          BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN IF NOT EXISTS status                TEXT NOT NULL DEFAULT 'pending',
    ADD COLUMN IF NOT EXISTS created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS updated_at            TIMESTAMPTZ NOT NULL DEFAULT now();

-- The vault reads both timestamps of every row.
ALTER TABLE broker_accounts ALTER COLUMN created_at SET DEFAULT now();
UPDATE broker_accounts SET created_at = now() WHERE created_at IS NULL;
ALTER TABLE broker_accounts ALTER COLUMN updated_at SET DEFAULT now();
UPDATE broker_accounts SET updated_at = created_at WHERE updated_at IS NULL;

-- Named as migration 20261128000001 names it: migration 20261128200001 replaces it.
ALTER TABLE broker_accounts ADD CONSTRAINT broker_accounts_status_check
    CHECK (status IN ('pending', 'active', 'needs_login', 'disabled'));

-- As migration 20261128000001 creates them for a new table.
CREATE INDEX IF NOT EXISTS broker_accounts_by_user ON broker_accounts (user_id, created_at, id);
CREATE INDEX IF NOT EXISTS broker_accounts_due_for_run ON broker_accounts (id)
    WHERE auto_execute AND status <> 'disabled';

CREATE TABLE broker_sessions (
    account_id              UUID PRIMARY KEY REFERENCES broker_accounts (id) ON DELETE CASCADE,
    access_token_encrypted  TEXT NOT NULL,
    refresh_token_encrypted TEXT,
    feed_token_encrypted    TEXT,
    expires_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
