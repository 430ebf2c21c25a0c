"""The wire contract: msgspec Structs for commands, replies, read models and the event envelope."""
