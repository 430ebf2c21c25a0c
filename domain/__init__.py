"""Aggregates and their events: pure decisions, no I/O, no clock or randomness not handed in."""
