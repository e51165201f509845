-- Huge or deeply nested envelopes are handled in linear time and stored
-- intact.  The statement_timeout turns a quadratic slowdown into a failure.
\i sql/helpers/expect_error.sql
SET statement_timeout = '20s';

-- 400,000 parent ids, each listed twice: stored once each, in first-seen order
CREATE TEMP TABLE many AS
SELECT pg_temp.sample_envelope('a7000000-0000-4000-8000-000000000001')
       || jsonb_build_object('correlation_ids',
              (SELECT jsonb_agg(format('a7100000-0000-4000-8000-%s', lpad((i % 200000)::text, 12, '0')) ORDER BY i)
                 FROM generate_series(0, 399999) AS i)) AS e;
SELECT candystore.append(e) > 0 AS appended FROM many;
SELECT cardinality(correlation_ids) AS parents,
       correlation_ids[1] AS first, correlation_ids[200000] AS last,
       envelope = (SELECT e FROM many) AS verbatim
  FROM candystore.events WHERE event_id = 'a7000000-0000-4000-8000-000000000001';

-- a bad id at the very end of a long list is still found and named
SELECT pg_temp.expect_error(format('SELECT candystore.check_envelope(%L)',
           jsonb_set(e, '{correlation_ids,399999}', '"not-a-uuid"'))) AS bad_last_parent
  FROM many;

-- a payload nested 5,000 levels deep is just data
SELECT candystore.append(jsonb_set(pg_temp.sample_envelope('a7000000-0000-4000-8000-000000000002'), '{payload}',
           ('{"id": "ff_deep", "a": ' || repeat('{"a": ', 4999) || '1' || repeat('}', 5000))::jsonb)) > 0 AS deep_payload_appended;
SELECT candystore.get_event('a7000000-0000-4000-8000-000000000002') #>> '{payload,a,a,a}' IS NOT NULL AS deep_payload_kept;

-- a 1 MB string field is kept whole; the error for a 1 MB bad event_type quotes only 100 bytes
SELECT candystore.append(jsonb_set(pg_temp.sample_envelope('a7000000-0000-4000-8000-000000000003'), '{payload,blob}',
           to_jsonb(repeat('x', 1048576)))) > 0 AS big_appended;
SELECT length(candystore.get_event('a7000000-0000-4000-8000-000000000003') #>> '{payload,blob}') AS blob_length;
SELECT length(pg_temp.expect_error(format('SELECT candystore.check_envelope(%L)',
           jsonb_set(pg_temp.sample_envelope('a7000000-0000-4000-8000-000000000004'), '{event_type}',
                     to_jsonb(repeat('x', 1048576)))))) < 200 AS short_error;
RESET statement_timeout;
