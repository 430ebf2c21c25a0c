-- Mail waiting to go out, and mail gone (infra/outbox.py). A row is written in the transaction
-- that decided the mail (a notification by the notifications projector) or right after the
-- command that did (a password reset), keyed by an id stable for that mail, so writing it
-- twice is harmless. The mail worker claims due rows for a short lease, hands them to the mail
-- server and marks them sent (the body, which may hold a secret, is then blanked), or counts
-- the failure and waits with backoff before trying again: a failing server delays, never loses.
CREATE TABLE IF NOT EXISTS cw_mail_outbox (
    mail_id         uuid        PRIMARY KEY,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    link            text        NOT NULL DEFAULT '',  -- a path of the platform, sent as CW_PUBLIC_URL + it
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    sent_at         timestamptz,
    failed_at       timestamptz,
    last_error      text
);
CREATE INDEX IF NOT EXISTS cw_mail_outbox_due ON cw_mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
