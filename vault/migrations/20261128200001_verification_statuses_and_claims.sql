-- The statuses account verification sets (broker-connect), and store-wide claims: login
-- leases, consumed single-use nonces and exclusive egress assignments shared by every
-- process on this database.

ALTER TABLE broker_accounts DROP CONSTRAINT broker_accounts_status_check;
ALTER TABLE broker_accounts ADD CONSTRAINT broker_accounts_status_check
    CHECK (status IN ('pending', 'active', 'needs_login', 'disabled', 'ip_not_whitelisted',
                      'invalid_credentials', 'invalid_totp', 'broker_unreachable'));

CREATE TABLE store_claims (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TIMESTAMPTZ NOT NULL
);
