"""Errors of the query layer; the gateway maps them to HTTP with the domain families."""

from __future__ import annotations

from domain.errors import RuleViolation
from infra.errors import Unavailable


class InvalidQuery(RuleViolation):
    """A query parameter is malformed (a cursor that is not ours, an unknown sort)."""

    code = "invalid_query"


class ProjectionBehind(Unavailable):
    """A read-your-writes query waited its bound and the read model had not reached the position.

    Nothing was wrong with the request; retrying shortly will succeed. As an `Unavailable` the
    gateway answers 503 with Retry-After, code `<projection>_projection_unavailable`.
    """

    def __init__(self, projection: str, wanted: int, reached: int, waited: float) -> None:
        super().__init__(
            f"{projection}_projection",
            f"the read model reached position {reached}, not {wanted}, within {waited:.1f}s; retry shortly",
        )
        self.projection = projection
        self.wanted = wanted
        self.reached = reached
        self.waited = waited
