-- erase_subject(subject, reason) erases every event whose payload names the
-- subject at a path registered for its event type: nested, in arrays, as
-- text or number; events of other subjects and unregistered types stay.
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.env(id int, type text, payload jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', ('e2000000-0000-4000-8000-' || lpad(id::text, 12, '0'))::uuid, 'event_type', type,
        'timestamp', '2026-03-01T10:00:00Z', 'version', '1.0.0',
        'source', jsonb_build_object('host', 'h1', 'type', 'webhook'),
        'payload', payload)
$$;
-- without a registered path, erase_subject cannot find anything: refused
SELECT pg_temp.expect_error($$SELECT candystore.erase_subject('p-42', 'request 2')$$) AS no_subject_path;
SELECT pg_temp.expect_error($$SELECT candystore.register_subject_path('meeting.joined', '$.participant[')$$) AS bad_path;
SELECT count(*) AS erasures FROM candystore.erasures WHERE reason = 'request 2';

SELECT candystore.register_subject_path('meeting.joined', '$.participant.id'),
       candystore.register_subject_path('meeting.summary', '$.attendees[*].id'),
       candystore.register_subject_path('meeting.summary', '$.owner');
SELECT event_type, path FROM candystore.subject_paths ORDER BY 1, 2;
SELECT count(candystore.append(e)) AS appended FROM (VALUES
    (pg_temp.env(1, 'meeting.joined', '{"participant": {"id": "p-42", "name": "Alice"}}')),
    (pg_temp.env(2, 'meeting.joined', '{"participant": {"id": "p-7", "name": "Bob"}}')),
    (pg_temp.env(3, 'meeting.summary', '{"attendees": [{"id": "p-7"}, {"id": "p-42"}], "text": "Alice said"}')),
    (pg_temp.env(4, 'meeting.summary', '{"attendees": [{"id": "p-7"}], "owner": 42}')),
    (pg_temp.env(5, 'meeting.summary', '{"attendees": [], "owner": "p-42"}')),
    -- the subject at a path not registered for this type: not this subject's event
    (pg_temp.env(6, 'meeting.joined', '{"participant": {"id": "p-8"}, "note": "p-42"}')),
    -- a type with no registered path
    (pg_temp.env(7, 'meeting.left', '{"participant": {"id": "p-42"}}'))) v(e);

SELECT erasure_id IS NOT NULL AS recorded, events FROM candystore.erase_subject('p-42', 'GDPR request 2');
SELECT right(event_id::text, 1) AS n, event_type, payload ? 'candystore_erasure' AS erased
  FROM candystore.events WHERE event_id::text LIKE 'e2000000-%' ORDER BY position;
-- a number matches as its text
SELECT events FROM candystore.erase_subject('42', 'GDPR request 3');
SELECT right(event_id::text, 1) AS n FROM candystore.events
 WHERE event_id::text LIKE 'e2000000-%' AND payload ? 'candystore_erasure' ORDER BY position;
SELECT reason, by_subject, events,
       (SELECT count(*) FROM candystore.erased_events x WHERE x.erasure_id = a.erasure_id) AS listed
  FROM candystore.erasures a WHERE reason LIKE 'GDPR request _' AND by_subject ORDER BY erasure_id;
-- the subject itself is kept nowhere in the audit
SELECT count(*) AS audit_rows_naming_the_subject FROM candystore.erasures a
 WHERE a::text LIKE '%p-42%';
-- nothing left to erase: recorded, zero events
SELECT events FROM candystore.erase_subject('p-42', 'GDPR request 2 repeated');
SELECT candystore.unregister_subject_path('meeting.summary', '$.owner') AS unregistered,
       candystore.unregister_subject_path('meeting.summary', '$.owner') AS again;
