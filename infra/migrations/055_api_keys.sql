-- Organisations' API keys for machine clients (infra/apikeys.py). Only the SHA-256 of a key's
-- random secret is stored, with its last four characters as a hint. Every write sets `xid` to
-- the writing transaction's id and NOTIFYs `cw_api_keys`, so every process follows the table
-- in memory (infra/following.py): a revocation is refused everywhere within moments.
CREATE TABLE IF NOT EXISTS cw_api_keys (
    id             uuid        PRIMARY KEY,
    org_id         uuid        NOT NULL,
    name           text        NOT NULL,
    role           text        NOT NULL,
    secret_sha256  bytea       NOT NULL,
    hint           text        NOT NULL,
    created_by     uuid        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_by     uuid,
    xid            xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX IF NOT EXISTS cw_api_keys_org ON cw_api_keys (org_id, created_at DESC);
CREATE INDEX IF NOT EXISTS cw_api_keys_xid ON cw_api_keys (xid);
