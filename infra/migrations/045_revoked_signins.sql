-- Sign-ins ended before their access tokens ran out (sign-out, a reused refresh token, a
-- password or membership change). Written in the transaction that revokes the sign-in's refresh
-- tokens; every gateway process keeps the live rows in memory and checks access tokens
-- against them (infra/revocations.py). A row is needed only until the last access token of its
-- sign-in has expired (expires_at); the gateway's housekeeping deletes it after that.
-- `xid` is the writing transaction's id: a reader that remembers the xmin of its last
-- snapshot reads only the rows committed since, without missing one that committed late.
CREATE TABLE IF NOT EXISTS cw_revoked_signins (
    family      uuid        PRIMARY KEY,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    xid         xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX IF NOT EXISTS cw_revoked_signins_xid ON cw_revoked_signins (xid);
CREATE INDEX IF NOT EXISTS cw_revoked_signins_expires ON cw_revoked_signins (expires_at);
