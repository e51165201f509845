-- Only the owner and candystore_eraser may erase; writers and readers may
-- not.  Erasure is the one way past the immutability rule: its flag is C
-- state no SQL reaches, reset when erase() returns or fails, and every other
-- UPDATE of the store is still refused, in the same transaction as an erase
-- too.  The audit tables are immutable as well.
\i sql/helpers/expect_error.sql
CREATE ROLE regress_cs_eraser IN ROLE candystore_eraser;
CREATE ROLE regress_cs_writer2 IN ROLE candystore_writer;
GRANT candystore_reader TO regress_cs_eraser;
SELECT candystore.append(pg_temp.sample_envelope(('e3000000-0000-4000-8000-00000000000' || n)::uuid)) > 0 AS appended
  FROM generate_series(1, 4) n;

SET ROLE regress_cs_writer2;
SELECT pg_temp.expect_error($$SELECT candystore.erase(ARRAY['e3000000-0000-4000-8000-000000000001']::uuid[], 'writer')$$) AS writer_erase,
       pg_temp.expect_error($$SELECT candystore.erase_subject('x', 'writer')$$) AS writer_erase_subject,
       pg_temp.expect_error($$SELECT candystore.register_subject_path('a.b', '$.x')$$) AS writer_register,
       pg_temp.expect_error($$SELECT * FROM candystore.erasures$$) AS writer_reads_audit;
RESET ROLE;

SET ROLE regress_cs_eraser;
SELECT events FROM candystore.erase(ARRAY['e3000000-0000-4000-8000-000000000001']::uuid[], 'eraser');
-- an eraser cannot write the store or the audit directly
SELECT pg_temp.expect_error($$UPDATE candystore.event_log SET envelope = '{}' WHERE event_id = 'e3000000-0000-4000-8000-000000000002'$$) AS eraser_update,
       pg_temp.expect_error($$INSERT INTO candystore.erasures (erased_by, session_user_name, reason, by_subject, events) VALUES ('x', 'x', 'x', false, 0)$$) AS eraser_forges_audit;
SELECT erased_by, session_user_name = session_user AS login_recorded, reason, events
  FROM candystore.erasures WHERE reason = 'eraser';
RESET ROLE;

-- no setting reaches the flag
SELECT pg_temp.expect_error($$SET candystore.erasure_in_progress = on$$) AS setting,
       pg_temp.expect_error($$SELECT set_config('candystore.erasing', 'on', true)$$) AS set_config;
-- the superuser, in the same transaction as an erasure, after it and after a failed one
BEGIN;
SELECT events FROM candystore.erase(ARRAY['e3000000-0000-4000-8000-000000000003']::uuid[], 'same transaction');
SELECT pg_temp.expect_error($$UPDATE candystore.event_log SET envelope = '{}' WHERE event_id = 'e3000000-0000-4000-8000-000000000004'$$) AS update_after_erase,
       pg_temp.expect_error($$UPDATE candystore.event_log SET envelope = '{}' WHERE event_id = 'e3000000-0000-4000-8000-000000000003'$$) AS update_of_the_tombstone,
       pg_temp.expect_error($$SELECT candystore.erase(ARRAY['e3000000-0000-4000-8000-0000000000ff']::uuid[], 'fails')$$) AS failed_erase,
       pg_temp.expect_error($$DELETE FROM candystore.event_log WHERE event_id = 'e3000000-0000-4000-8000-000000000004'$$) AS delete_after_failed_erase,
       pg_temp.expect_error($$UPDATE candystore.erasures SET reason = 'x'$$) AS audit_update,
       pg_temp.expect_error($$DELETE FROM candystore.erased_events$$) AS audit_delete,
       pg_temp.expect_error($$TRUNCATE candystore.erasures CASCADE$$) AS audit_truncate;
COMMIT;
SELECT right(event_id::text, 1) AS n, payload ? 'candystore_erasure' AS erased
  FROM candystore.events WHERE event_id::text LIKE 'e3000000-%' ORDER BY position;
-- an erasure rolled back leaves neither tombstones nor audit rows
BEGIN;
SELECT events FROM candystore.erase(ARRAY['e3000000-0000-4000-8000-000000000004']::uuid[], 'rolled back');
ROLLBACK;
SELECT (SELECT count(*) FROM candystore.erasures WHERE reason = 'rolled back') AS audit_rows,
       (SELECT payload ? 'candystore_erasure' FROM candystore.events WHERE event_id = 'e3000000-0000-4000-8000-000000000004') AS erased;
DROP ROLE regress_cs_eraser;
DROP ROLE regress_cs_writer2;
