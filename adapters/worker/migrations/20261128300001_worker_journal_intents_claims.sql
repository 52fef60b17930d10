-- The worker's tables: order intents, the journal (runs and executions) and the claims that let
-- several worker processes share a run.

CREATE TABLE order_intents (
    id           TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    user_id      UUID NOT NULL,
    account_id   UUID NOT NULL,
    slot         TEXT NOT NULL DEFAULT '15:10' CHECK (slot ~ '^[0-2][0-9]:[0-5][0-9]$'),
    -- The order in broker_core::OrderRequest's serde form, checked when the run reaches it.
    order_fields JSONB NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX order_intents_by_slot ON order_intents (slot) WHERE enabled;

CREATE TABLE execution_runs (
    id           UUID PRIMARY KEY,
    trading_date DATE NOT NULL,
    slot         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (trading_date, slot)
);

CREATE TABLE executions (
    run_id           UUID NOT NULL REFERENCES execution_runs (id) ON DELETE CASCADE,
    intent_id        TEXT NOT NULL,
    user_id          UUID NOT NULL,
    account_id       UUID NOT NULL,
    tag              TEXT NOT NULL CHECK (tag ~ '^[A-Za-z0-9]{1,20}$'),
    state            TEXT NOT NULL CHECK (state IN
                         ('submitting', 'placed', 'rejected', 'refused', 'failed', 'unknown')),
    order_id         TEXT,
    broker_reference TEXT,
    reason           TEXT,
    detail           TEXT,
    reconciliation   TEXT CHECK (reconciliation IN
                         ('found_by_tag', 'absent_from_book', 'rejected_after_acceptance',
                          'status_refreshed')),
    broker_status    TEXT,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, intent_id),
    UNIQUE (run_id, tag)
);

-- One row per (run, account): which process executes it, until when its lease holds, and
-- whether it is finished. Claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE execution_claims (
    run_id      UUID NOT NULL REFERENCES execution_runs (id) ON DELETE CASCADE,
    account_id  UUID NOT NULL,
    owner       TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    finished    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_id, account_id)
);

-- The database is hostile ground (a Supabase project exposes `public` through its REST API):
-- row-level security on, no policies, and no grants to PUBLIC or the API roles. The worker
-- connects as the tables' owner, which row-level security does not restrict.
ALTER TABLE order_intents ENABLE ROW LEVEL SECURITY;
ALTER TABLE execution_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE execution_claims ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON order_intents, execution_runs, executions, execution_claims FROM PUBLIC;
DO $$
DECLARE
    api_role TEXT;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role) THEN
            EXECUTE format(
                'REVOKE ALL ON order_intents, execution_runs, executions, execution_claims FROM %I',
                api_role);
        END IF;
    END LOOP;
END
$$;
