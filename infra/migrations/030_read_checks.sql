-- Read-set validation for the append statement: a commit fails if a stream its decision read
-- (and does not write) has moved on since. The append calls this after its UPDATE of the log
-- head has the head row's lock, so no other commit can land meanwhile. The function is VOLATILE,
-- so its queries take a fresh snapshot and see every commit that finished while the statement
-- waited for the lock (the statement's own snapshot, taken before the wait, would miss them).
-- One probe of the unique (stream_id, version) index per read: a set-based join was planned once
-- on a near-empty log as a sequential scan and kept that plan as the log grew.
-- DETAIL lists each stale stream as "<stream id>:<version now>", separated by spaces.
CREATE OR REPLACE FUNCTION cw_check_reads(reads json) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r record;
    now_at bigint;
    stale text;
BEGIN
    FOR r IN SELECT * FROM json_to_recordset(reads) AS x(stream_id uuid, version bigint) LOOP
        PERFORM 1 FROM cw_events e WHERE e.stream_id = r.stream_id AND e.version = r.version + 1;
        IF FOUND THEN
            SELECT e.version INTO now_at FROM cw_events e
             WHERE e.stream_id = r.stream_id ORDER BY e.version DESC LIMIT 1;
            stale := concat_ws(' ', stale, r.stream_id::text || ':' || now_at);
        END IF;
    END LOOP;
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'a stream the decision read has moved on'
            USING ERRCODE = 'serialization_failure', DETAIL = stale;
    END IF;
    RETURN true;
END $$;
