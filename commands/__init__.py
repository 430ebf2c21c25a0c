"""Command handlers: load aggregates, decide, append; idempotent; retried on version conflicts."""
