-- Events a projection could not apply: parked here (and on the <events_stream>_DLQ subject)
-- until replayed. The read models themselves live in one schema per projection (rm_<name>),
-- created by the projectors, so a rebuild can build a fresh schema and swap it in.
CREATE TABLE IF NOT EXISTS cw_projection_dead_letters (
    projection   text        NOT NULL,
    position     bigint      NOT NULL,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    error        text        NOT NULL,
    attempts     integer     NOT NULL DEFAULT 1,
    parked_at    timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    PRIMARY KEY (projection, position)
);
CREATE INDEX IF NOT EXISTS cw_projection_dead_letters_open
    ON cw_projection_dead_letters (projection) WHERE replayed_at IS NULL;
