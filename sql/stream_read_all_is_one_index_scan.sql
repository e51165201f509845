-- read_all() is inlined into the calling query: a batch is a scan of
-- event_log (by its (xid, position) index) under a Limit, with no function
-- call that materialises the batch in between (the catch-up rate depends on it; see
-- bench/read_all.sh).  Inlined, it runs with the caller's rights, which a
-- reader has (through the event_stream view), and with the caller's
-- search_path, which must not change what it calls: its body was bound when
-- it was created.
\i sql/helpers/expect_error.sql
-- event_log is partitioned: the scan is an index scan of each partition
-- under a Merge Append, which reads each no further than the batch needs.
CREATE FUNCTION pg_temp.plan_nodes(query text) RETURNS TABLE(function_scans bigint, event_log_index_scans_only boolean)
LANGUAGE plpgsql AS $$
DECLARE
    lines text[] := '{}';
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        lines := lines || line;
    END LOOP;
    RETURN QUERY SELECT count(*) FILTER (WHERE l ~ 'Function Scan'),
                        count(*) FILTER (WHERE l ~ ' on event_log') > 0
                        AND bool_and(l ~ '^\s*(->  )?Index Scan' OR l ~ 'Merge Append') FILTER (WHERE l ~ ' on event_log|Append')
                   FROM unnest(lines) l;
END
$$;
SET enable_seqscan = off;
SELECT * FROM pg_temp.plan_nodes($$SELECT * FROM candystore.read_all(NULL, 10)$$);
SELECT * FROM pg_temp.plan_nodes($$SELECT * FROM candystore.read_all('0000000000000001-0000000000000001', 10, '{a.b}')$$);
RESET enable_seqscan;

SELECT candystore.append(pg_temp.sample_envelope('c5000000-0000-4000-8000-000000000001')) > 0 AS appended;
CREATE ROLE regress_cs_stream_reader IN ROLE candystore_reader;
SET ROLE regress_cs_stream_reader;
SELECT count(*) > 0 AS reader_reads FROM candystore.read_all(NULL, 100000);
RESET ROLE;

-- an operator that says every two texts are equal, first on the search_path:
-- the event_types filter still compares with pg_catalog's
CREATE SCHEMA regress_cs_shadow;
CREATE FUNCTION regress_cs_shadow.always(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN true;
CREATE OPERATOR regress_cs_shadow.= (FUNCTION = regress_cs_shadow.always, LEFTARG = text, RIGHTARG = text);
SET search_path = regress_cs_shadow, pg_catalog;
SELECT count(*) AS no_such_type FROM candystore.read_all(NULL, 100000, '{regress.no.such.type}');
RESET search_path;
DROP SCHEMA regress_cs_shadow CASCADE;
DROP ROLE regress_cs_stream_reader;

-- wait_for_events() looks for the first event after the cursor where the
-- cursor points in the (xid, position) index: a check reads a handful of
-- index entries, not every entry before the cursor (its latency would grow
-- with the store).
SELECT count(candystore.append(pg_temp.sample_envelope(md5('wait' || i)::uuid))) AS appended
  FROM generate_series(1, 200) i;
SELECT max(cursor COLLATE "C") AS last_cursor FROM candystore.read_all(NULL, 100000) \gset
SELECT pg_stat_force_next_flush();
CREATE VIEW pg_temp.xid_index_reads AS
SELECT sum(s.idx_tup_read) AS idx_tup_read
  FROM pg_stat_user_indexes s JOIN pg_inherits i ON i.inhrelid = s.relid
 WHERE i.inhparent = 'candystore.event_log'::regclass
   AND pg_get_indexdef(s.indexrelid) ~ '\(xid, "?position"?\)';
SELECT idx_tup_read AS before_wait FROM pg_temp.xid_index_reads \gset
SELECT candystore.wait_for_events(:'last_cursor', '0 seconds') AS found_nothing;
SELECT pg_stat_force_next_flush();
SELECT idx_tup_read - :before_wait < 10 AS read_a_handful
  FROM pg_temp.xid_index_reads;
