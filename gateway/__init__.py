"""The edge of the system: the `coursewright` command, the composition root, and the HTTP and
NATS APIs. Nothing imports this package; it imports the rest."""
