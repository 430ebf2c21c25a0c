"""The questions of the messaging API that the HTTP API asks with GET: the catalog, courses and
their outline, reviews, progress, students, analytics, paths, a certificate, the notification
count and preferences (read models: `position` waits for one), the caller, a profile, an
organisation, an API key (from the store). Each takes the HTTP query's parameters as its body
and calls the same function with the caller, so it answers (and refuses) exactly as HTTP does."""

from __future__ import annotations

from gateway import apikeys, people
from gateway.messaging.service import Call, Endpoint
from gateway.services import Services
from projections import queries as rq
from projections.queries import certificates as cq
from projections.queries import notifications as nq
from schemas import apikeys as k
from schemas import certificates as cert
from schemas import identity as i
from schemas import notifications as n
from schemas import readmodels as rm


async def _catalog(services: Services, call: Call) -> rm.CatalogPage:
    q: rm.SearchCatalog = call.payload
    query = rq.CatalogQuery(
        q=q.q,
        category=q.category,
        cefr=tuple(q.cefr),
        tags=tuple(q.tag),
        instructor=q.instructor,
        sort=q.sort,
        cursor=q.cursor,
        limit=q.limit,
    )
    return await rq.catalog_page(services.reader, call.caller, query, position=q.position)


async def _course(services: Services, call: Call) -> rm.CourseDetail:
    q: rm.GetCourse = call.payload
    draft = q.revision == "draft"
    return await rq.course_detail(services.reader, call.caller, q.course_id, draft=draft, position=q.position)


async def _module(services: Services, call: Call) -> rm.ModuleView:
    q: rm.GetModule = call.payload
    draft = q.revision == "draft"
    return await rq.module_detail(
        services.reader, call.caller, q.course_id, q.module_id, draft=draft, position=q.position
    )


async def _lesson(services: Services, call: Call) -> rm.LessonView:
    q: rm.GetLesson = call.payload
    draft = q.revision == "draft"
    return await rq.lesson_detail(
        services.reader, call.caller, q.course_id, q.lesson_id, draft=draft, position=q.position
    )


async def _course_reviews(services: Services, call: Call) -> rm.ReviewList:
    q: rm.ListCourseReviews = call.payload
    return await rq.review_history(services.reader, call.caller, q.course_id, position=q.position)


async def _review(services: Services, call: Call) -> rm.ReviewView:
    q: rm.GetReview = call.payload
    return await rq.review_detail(services.reader, call.caller, q.review_id, position=q.position)


async def _review_queue(services: Services, call: Call) -> rm.ReviewList:
    q: rm.ListReviewQueue = call.payload
    return await rq.review_queue(services.reader, call.caller, mine=q.mine, limit=q.limit, position=q.position)


async def _student_progress(services: Services, call: Call) -> rm.EnrollmentProgress:
    q: rm.GetStudentProgress = call.payload
    return await rq.my_course(services.reader, call.caller, q.course_id, student_id=q.student_id, position=q.position)


async def _my_courses(services: Services, call: Call) -> rm.ProgressList:
    q: rm.ListMyCourses = call.payload
    return await rq.my_courses(services.reader, call.caller, archived=q.archived, position=q.position)


async def _authored(services: Services, call: Call) -> rm.AuthoredList:
    q: rm.ListAuthoredCourses = call.payload
    return await rq.authored_courses(services.reader, call.caller, status=list(q.status), position=q.position)


async def _my_course(services: Services, call: Call) -> rm.EnrollmentProgress:
    q: rm.GetMyCourse = call.payload
    return await rq.my_course(services.reader, call.caller, q.course_id, position=q.position)


async def _students(services: Services, call: Call) -> rm.ProgressList:
    q: rm.ListStudents = call.payload
    return await rq.instructor_students(
        services.reader, call.caller, course_id=q.course_id, limit=q.limit, position=q.position
    )


def _analytics_query(q: rm.AnalyticsQuestion, top: int = 5) -> rq.AnalyticsQuery:
    return rq.AnalyticsQuery(
        period=q.period, since=q.since, until=q.until, at_risk_days=q.at_risk_days,
        at_risk_below=q.at_risk_below, top=top, as_of=q.as_of,
    )  # fmt: skip


async def _course_analytics(services: Services, call: Call) -> rm.Analytics:
    q: rm.GetCourseAnalytics = call.payload
    return await rq.course_analytics(
        services.reader, call.caller, q.course_id, _analytics_query(q), position=q.position
    )


async def _org_analytics(services: Services, call: Call) -> rm.Analytics:
    q: rm.GetOrganisationAnalytics = call.payload
    return await rq.org_analytics(services.reader, call.caller, _analytics_query(q, q.top), position=q.position)


async def _path(services: Services, call: Call) -> rm.LearningPathView:
    q: rm.GetLearningPath = call.payload
    return await rq.learning_path(services.reader, call.caller, q.path_id, position=q.position)


async def _certificate(services: Services, call: Call) -> cert.CertificateView:
    q: cert.GetCertificate = call.payload
    return await cq.certificate(services.reader, call.caller, q.certificate_id, position=q.position)


async def _unread(services: Services, call: Call) -> n.UnreadCount:
    q: n.CountUnread = call.payload
    return await nq.unread_count(services.reader, call.caller, position=q.position)


async def _preferences(services: Services, call: Call) -> n.Preferences:
    q: n.ListPreferences = call.payload
    return await nq.preferences(services.reader, call.caller, position=q.position)


async def _me(services: Services, call: Call) -> i.Me:
    return await people.me(services, call.caller)


async def _profile(services: Services, call: Call) -> i.Profile:
    q: i.GetProfile = call.payload
    return await people.profile(services, call.caller, q.user_id)


async def _organisation(services: Services, call: Call) -> i.OrganisationView:
    q: i.GetOrganisation = call.payload
    return await people.organisation(services, call.caller, q.org_id)


async def _api_key(services: Services, call: Call) -> k.ApiKeyView:
    q: k.GetApiKey = call.payload
    return await apikeys.get_key(services.store, services.api_keys, call.caller, q.org_id, q.key_id)


def read_model_endpoints() -> list[Endpoint]:
    """The endpoints, each named for its HTTP route's resource."""
    return [
        Endpoint("catalog.search", rm.SearchCatalog, rm.CatalogPage, _catalog, "Published courses the caller sees"),
        Endpoint("courses.get", rm.GetCourse, rm.CourseDetail, _course, "A course's outline"),
        Endpoint("courses.module", rm.GetModule, rm.ModuleView, _module, "One module of a course's outline"),
        Endpoint("courses.lesson", rm.GetLesson, rm.LessonView, _lesson, "One lesson of a course's outline"),
        Endpoint("courses.reviews", rm.ListCourseReviews, rm.ReviewList, _course_reviews, "A course's review rounds"),
        Endpoint(
            "courses.student_progress",
            rm.GetStudentProgress,
            rm.EnrollmentProgress,
            _student_progress,
            "A student's progress in a course",
        ),
        Endpoint("courses.analytics", rm.GetCourseAnalytics, rm.Analytics, _course_analytics, "Measures of one course"),
        Endpoint("reviews.get", rm.GetReview, rm.ReviewView, _review, "One review round and its comments"),
        Endpoint("reviews.queue", rm.ListReviewQueue, rm.ReviewList, _review_queue, "Courses awaiting review"),
        Endpoint("me.courses", rm.ListMyCourses, rm.ProgressList, _my_courses, "The caller's enrolments"),
        Endpoint("me.course", rm.GetMyCourse, rm.EnrollmentProgress, _my_course, "The caller's progress in a course"),
        Endpoint("me.authored", rm.ListAuthoredCourses, rm.AuthoredList, _authored, "The courses the caller writes"),
        Endpoint("students.list", rm.ListStudents, rm.ProgressList, _students, "Students of the caller's courses"),
        Endpoint(
            "analytics.organisation",
            rm.GetOrganisationAnalytics,
            rm.Analytics,
            _org_analytics,
            "Measures of the caller's organisation",
        ),
        Endpoint("paths.get", rm.GetLearningPath, rm.LearningPathView, _path, "One learning path"),
        Endpoint("certificates.get", cert.GetCertificate, cert.CertificateView, _certificate, "One certificate"),
        Endpoint("notifications.unread_count", n.CountUnread, n.UnreadCount, _unread, "Unread notifications"),
        Endpoint(
            "notifications.preferences",
            n.ListPreferences,
            n.Preferences,
            _preferences,
            "How each kind of notification reaches the caller",
        ),
        Endpoint("identity.me", i.WhoAmI, i.Me, _me, "The signed-in user, organisation and roles"),
        Endpoint("users.get", i.GetProfile, i.Profile, _profile, "A user's public profile"),
        Endpoint("organisations.get", i.GetOrganisation, i.OrganisationView, _organisation, "An organisation"),
        Endpoint("organisations.api_keys.get", k.GetApiKey, k.ApiKeyView, _api_key, "One API key, no secret"),
    ]
