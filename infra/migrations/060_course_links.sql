-- The streams linked to a course (its reviews, enrolments, orders and certificates), found by
-- the course id their events' payloads carry (infra/eventlog/reader.py `linked_streams`, the
-- auditors' course history and export). Without these the query read the whole log. Partial:
-- only the events that carry the field are indexed; `x = $1` implies `x IS NOT NULL`, so every
-- plan of the query, generic ones included, may use them.
CREATE INDEX IF NOT EXISTS cw_events_course_id ON cw_events ((payload ->> 'course_id'))
    WHERE payload ->> 'course_id' IS NOT NULL;
CREATE INDEX IF NOT EXISTS cw_events_certified_course_id ON cw_events ((payload #>> '{certified,course_id}'))
    WHERE payload #>> '{certified,course_id}' IS NOT NULL;
