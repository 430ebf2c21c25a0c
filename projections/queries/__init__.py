"""Queries over the read models: what the gateway's query endpoints call."""

from projections.queries.analytics import AnalyticsQuery, course_analytics, org_analytics
from projections.queries.authoring import authored_courses
from projections.queries.catalog import (
    CatalogQuery,
    catalog_json,
    catalog_page,
    course_detail,
    course_detail_json,
)
from projections.queries.cohorts import cohort_detail, cohorts
from projections.queries.outline import lesson_detail, module_detail
from projections.queries.paths import learning_path, learning_paths, path_progress
from projections.queries.privacy import teaches
from projections.queries.progress import instructor_students, my_course, my_courses
from projections.queries.reader import Reader, Viewer
from projections.queries.reviews import review_detail, review_history, review_queue

__all__ = [
    "AnalyticsQuery",
    "CatalogQuery",
    "Reader",
    "Viewer",
    "authored_courses",
    "catalog_json",
    "catalog_page",
    "cohort_detail",
    "cohorts",
    "course_analytics",
    "course_detail",
    "course_detail_json",
    "instructor_students",
    "learning_path",
    "learning_paths",
    "lesson_detail",
    "module_detail",
    "my_course",
    "my_courses",
    "org_analytics",
    "path_progress",
    "review_detail",
    "review_history",
    "review_queue",
    "teaches",
]
