-- Where each legacy Web Crypto ciphertext sat when the legacy table was adopted: a digest of
-- (account id, owner, field, ciphertext) per value, and one of each ciphertext's text (so it is
-- never recorded in a second place). A legacy ciphertext carries no associated data, so only a
-- value still in its recorded place is opened or migrated; one copied into another row or
-- column is refused. Written by Vault::record_legacy_placements.

CREATE TABLE legacy_placements (
    digest      TEXT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

SELECT revoke_client_access('legacy_placements');
