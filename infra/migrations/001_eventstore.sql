-- The event store: one ordered log (gap-free positions handed out under the head row's lock),
-- a stream's version is unique per stream, idempotency records keep the first reply.
CREATE TABLE IF NOT EXISTS cw_log_head (
    id        smallint PRIMARY KEY CHECK (id = 1),
    position  bigint   NOT NULL
);
INSERT INTO cw_log_head (id, position) VALUES (1, 0) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS cw_events (
    position        bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       uuid        NOT NULL,
    stream_type     text        NOT NULL,
    version         bigint      NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id        text,
    org_id          text,
    correlation_id  text        NOT NULL,
    causation_id    text,
    payload         json        NOT NULL,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    UNIQUE (stream_id, version)
);

CREATE TABLE IF NOT EXISTS cw_idempotency (
    scope       text        NOT NULL,
    key         text        NOT NULL,
    reply       bytea       NOT NULL,
    position    bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS cw_idempotency_created ON cw_idempotency (created_at);

CREATE TABLE IF NOT EXISTS cw_relay_checkpoint (
    name        text        PRIMARY KEY,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Touched by a synchronous commit to flush the WAL: the durability barrier of group commit.
CREATE TABLE IF NOT EXISTS cw_flush (
    id  smallint PRIMARY KEY CHECK (id = 1),
    n   bigint   NOT NULL
);
INSERT INTO cw_flush (id, n) VALUES (1, 0) ON CONFLICT DO NOTHING;
