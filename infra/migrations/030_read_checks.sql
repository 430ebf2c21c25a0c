-- Read-set validation for the append statement: a commit fails if a stream its decision read
-- (and does not write) has moved on since. The append calls this after its UPDATE of the log
-- head has the head row's lock, so no other commit can land meanwhile. The function is VOLATILE,
-- so its query takes a fresh snapshot and sees every commit that finished while the statement
-- waited for the lock (the statement's own snapshot, taken before the wait, would miss them).
-- DETAIL lists each stale stream as "<stream id>:<version now>", separated by spaces.
CREATE OR REPLACE FUNCTION cw_check_reads(reads json) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    stale text;
BEGIN
    SELECT string_agg(r.stream_id::text || ':' ||
                      (SELECT max(e.version) FROM cw_events e WHERE e.stream_id = r.stream_id), ' ')
      INTO stale
      FROM json_to_recordset(reads) AS r(stream_id uuid, version bigint)
     WHERE EXISTS (SELECT 1 FROM cw_events e
                   WHERE e.stream_id = r.stream_id AND e.version = r.version + 1);
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'a stream the decision read has moved on'
            USING ERRCODE = 'serialization_failure', DETAIL = stale;
    END IF;
    RETURN true;
END $$;
