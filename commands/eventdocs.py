"""`python -m commands.eventdocs`: print the event catalogue page (docs/events.md)."""

from __future__ import annotations

import sys

from commands.codec import CATALOGUE


def main() -> None:
    sys.stdout.write(CATALOGUE.markdown())


if __name__ == "__main__":
    main()
