-- Refresh tokens of the HTTP gateway: rotated on every use; a family is one sign-in's chain.
-- Kept in a table rather than as events: they change on every refresh and are secrets' digests,
-- not facts anyone audits. Idempotency records expire after a day (purged by the gateway).
CREATE TABLE IF NOT EXISTS cw_refresh_tokens (
    token_id    uuid        PRIMARY KEY,
    family      uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    org_id      uuid        NOT NULL,
    digest      bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS cw_refresh_tokens_family ON cw_refresh_tokens (family);
CREATE INDEX IF NOT EXISTS cw_refresh_tokens_user ON cw_refresh_tokens (user_id)
    WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS cw_refresh_tokens_expires ON cw_refresh_tokens (expires_at);
