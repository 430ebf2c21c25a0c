"""The projections this system runs, by name."""

from __future__ import annotations

from projections.analytics import AnalyticsProjection
from projections.catalog import CatalogProjection
from projections.certificates import CertificatesProjection
from projections.model import Projection
from projections.notifications import NotificationsProjection
from projections.orders import OrdersProjection
from projections.progress import ProgressProjection
from projections.reviews import ReviewsProjection

PROJECTIONS: dict[str, type[Projection]] = {
    p.name: p
    for p in (
        CatalogProjection,
        ReviewsProjection,
        ProgressProjection,
        AnalyticsProjection,
        OrdersProjection,
        CertificatesProjection,
        NotificationsProjection,
    )
}


def projection(name: str) -> type[Projection]:
    try:
        return PROJECTIONS[name]
    except KeyError:
        raise LookupError(f"no projection {name!r}; known: {', '.join(sorted(PROJECTIONS))}") from None
