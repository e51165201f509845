-- Every read path the store serves is an index lookup, on event_log's
-- partitions and on event_ids, whatever an append's cost asks of the indexes
-- (docs/benchmarks.md, "Append: what each index costs"): dropping or
-- narrowing an index a path needs turns its plan into a scan of every
-- partition, and this test fails.  Scans are forbidden to the planner
-- (enable_seqscan = off), which still chooses one where no index serves; a
-- plan passes when it scans the store only through indexes of the expected
-- definition (an index walked only for its order, filtering every row, does
-- not pass).  SQL functions are explained from their own bodies, so a later
-- change to a body is checked too.
\i sql/helpers/expect_error.sql
SELECT count(candystore.append(jsonb_set(jsonb_set(jsonb_set(
           pg_temp.sample_envelope(md5('index paths' || i)::uuid),
           '{event_type}', to_jsonb(CASE WHEN i % 3 = 0 THEN 'regress.index.typed' ELSE 'fireflies.transcript.ready' END)),
           '{payload,session_id}', to_jsonb('regress-index-session-' || (i / 10))),
           '{correlation_ids}', CASE WHEN i % 5 = 0 THEN '[]' ELSE jsonb_build_array(md5('index paths' || (i - 1))::uuid) END)))
       AS appended
  FROM generate_series(1, 300) i;

-- index_backed(query, indexdef): how the plan of query reads the store
-- (event_ids and event_log's partitions): 'index' when only through indexes
-- whose definitions match indexdef (a regular expression), and one at least;
-- otherwise what else it reads, partition names left out
CREATE FUNCTION pg_temp.index_backed(query text, indexdef text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    m text[];
    def text;
    scans int := 0;
    other text[] := '{}';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        m := regexp_match(line, '(Seq|Tid|Tid Range|Sample) Scan on (event_log\S*|event_ids)');
        IF m IS NOT NULL THEN
            other := other || (m[1] || ' Scan on ' || m[2]);
        END IF;
        m := regexp_match(line, '(?:Index Scan|Index Only Scan)(?: Backward)? using (\S+)');
        IF m IS NULL THEN
            m := regexp_match(line, 'Bitmap Index Scan on (\S+)');
        END IF;
        CONTINUE WHEN m IS NULL;
        SELECT pg_get_indexdef(i.indexrelid) INTO def
          FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
         WHERE i.indexrelid = ('candystore.' || quote_ident(m[1]))::regclass
           AND t.relname ~ '^event_(log|ids)';
        CONTINUE WHEN def IS NULL;
        scans := scans + 1;
        IF def !~ indexdef THEN
            other := other || def;
        END IF;
    END LOOP;
    IF scans > 0 AND cardinality(other) = 0 THEN
        RETURN 'index';
    END IF;
    RETURN (SELECT string_agg(DISTINCT regexp_replace(o, 'event_log_(p\d+|default)', 'event_log_*', 'g'), '; ')
              FROM unnest(other) o);
END
$$;
-- a SQL function's body with its parameter replaced by a literal
CREATE FUNCTION pg_temp.body(fn regprocedure, param text, literal text) RETURNS text
LANGUAGE sql AS $$
    SELECT replace(prosrc, param, literal) FROM pg_proc WHERE oid = fn
$$;
SELECT min(i.event_id::text) AS some_id, min(i.causation_group::text) AS some_group
  FROM candystore.event_ids i JOIN candystore.event_log l USING (position)
 WHERE l.session_key = 'regress-index-session-7' \gset
SELECT p.partition AS some_partition FROM candystore.event_log_partitions p
  JOIN candystore.event_log l ON l.position BETWEEN p.first_position AND p.last_position
 WHERE l.session_key = 'regress-index-session-7' LIMIT 1 \gset

SET enable_seqscan = off;
SELECT path, pg_temp.index_backed(query, indexdef) AS index_backed
  FROM (VALUES
    ('get_event: event_ids by id, then the partition by position',
     pg_temp.body('candystore.get_event(uuid)', 'get_event.event_id', quote_literal(:'some_id') || '::uuid'),
     'event_ids USING btree \(event_id\)$|USING btree \("?position"?\)$'),
    -- a hash index: probed by equality only; a hash entry costs an append
    -- less than a random uuid's btree entry (0.2.0)
    ('events by event_id (the HTTP server''s GET /events/{id}, trace existence checks)',
     format('SELECT position, envelope::text FROM candystore.events WHERE event_id = %L::uuid', :'some_id'),
     'USING hash \(event_id\)$'),
    ('read_all: the first page',
     'SELECT * FROM candystore.read_all(NULL, 100)',
     'USING btree \(xid, "?position"?\)'),
    ('read_all: a page after a cursor, by event type',
     $$SELECT * FROM candystore.read_all('0000000000000001-0000000000000001', 100, '{regress.index.typed}')$$,
     'USING btree \((xid|event_type), "?position"?\)'),
    ('events of one type in position order',
     $$SELECT position FROM candystore.events WHERE event_type = 'regress.index.typed' ORDER BY position LIMIT 100$$,
     'USING btree \(event_type, "?position"?\)'),
    -- a hash index: the key is looked up by equality and the timeline sorts
    -- its rows by time itself; a hash entry costs an append less (0.2.0)
    ('session_timeline',
     pg_temp.body('candystore.session_timeline(text)', 'session_timeline.session_id', quote_literal('regress-index-session-7')),
     'USING hash \(session_key\) WHERE \(session_key IS NOT NULL\)'),
    ('events_caused_by: the descendants'' envelopes by id and position',
     pg_temp.body('candystore.events_caused_by(uuid)', 'events_caused_by.event_id', quote_literal(:'some_id') || '::uuid'),
     'event_ids USING btree \(event_id\)$|USING btree \("?position"?\)$'),
    ('purge_events: a partition''s newest occurred_at (whole partitions)',
     format('SELECT max(occurred_at) >= now() - interval %L FROM %s', '1 day', :'some_partition'),
     'USING btree \(occurred_at\)$'),
    ('purge_events: the rows older than the horizon',
     $$DELETE FROM candystore.event_log e WHERE e.occurred_at < now() - interval '1 day'
         AND NOT EXISTS (SELECT 1 FROM candystore.outbox o WHERE o.position = e.position AND o.published_at IS NULL)$$,
     'USING btree \(occurred_at\)$'),
    ('purge_events: their ids',
     format('DELETE FROM candystore.event_ids i WHERE i.event_id = ANY (ARRAY[%L::uuid])', :'some_id'),
     'event_ids USING btree \(event_id\)$'),
    ('replay: a time window',
     $$SELECT position FROM candystore.event_log e WHERE e.occurred_at >= '2026-01-27' AND e.occurred_at < '2026-01-28' ORDER BY position$$,
     'USING btree \(occurred_at\)$')
  ) AS q(path, query, indexdef);
-- the control: no index serves this, and the check says so
SELECT pg_temp.index_backed($$SELECT position FROM candystore.events WHERE envelope->>'version' = '9'$$,
                            'USING btree') AS unindexed_filter;
RESET enable_seqscan;

-- The causation walks (trace.c) scan the indexes they open by name, never a
-- table: these are the definitions they rely on (the group index holds every
-- column a walk reads, for index-only reads), and a walk reads through the
-- group index and never scans event_ids.
SELECT c.relname, pg_get_indexdef(c.oid) ~ expected AS as_expected
  FROM (VALUES ('event_ids_pkey', 'UNIQUE INDEX .* ON candystore.event_ids USING btree \(event_id\)$'),
               ('event_ids_causation_group_idx', 'ON candystore.event_ids USING btree \(causation_group, "position", event_id, occurred_at, \(\s*CASE\s+WHEN \(cardinality\(correlation_ids\) <= 64\) THEN correlation_ids\s+ELSE NULL::uuid\[\]\s+END\)\) INCLUDE \(event_type\)$'),
               ('causation_links_pkey', 'ON candystore.causation_links USING btree \(a, b\)$')) e(name, expected)
  JOIN pg_class c ON c.relname = e.name AND c.relnamespace = 'candystore'::regnamespace
 ORDER BY 1;
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE reads_before AS
SELECT (SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'candystore.event_ids'::regclass) AS seq_scans,
       (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = 'candystore.event_ids_causation_group_idx'::regclass) AS group_scans;
SELECT count(*) AS traced FROM candystore.trace(:'some_id'::uuid);
SELECT pg_stat_force_next_flush();
SELECT s.seq_scan = b.seq_scans AS no_scan_of_event_ids,
       x.idx_scan > b.group_scans AS read_through_the_group_index
  FROM reads_before b, pg_stat_user_tables s, pg_stat_user_indexes x
 WHERE s.relid = 'candystore.event_ids'::regclass
   AND x.indexrelid = 'candystore.event_ids_causation_group_idx'::regclass;
