-- An Idempotency-Key is bound to the request it first came with: the fingerprint of who sent
-- which command with which body (commands/bus.py), kept with the reply. A retry whose
-- fingerprint differs is refused (422) rather than answered with another request's reply.
-- Records kept before this column have '' and are replayed as before.
ALTER TABLE cw_idempotency ADD COLUMN IF NOT EXISTS fingerprint text NOT NULL DEFAULT '';
