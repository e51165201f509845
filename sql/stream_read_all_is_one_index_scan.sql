-- read_all() is inlined into the calling query: a batch is a scan of
-- event_log (by its (xid, position) index) under a Limit, with no function
-- call that materialises the batch in between (the catch-up rate depends on it; see
-- bench/read_all.sh).  Inlined, it runs with the caller's rights, which a
-- reader has (through the event_stream view), and with the caller's
-- search_path, which must not change what it calls: its body was bound when
-- it was created.
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.plan_nodes(query text) RETURNS TABLE(function_scans bigint, event_log_scans bigint)
LANGUAGE plpgsql AS $$
DECLARE
    lines text[] := '{}';
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        lines := lines || line;
    END LOOP;
    RETURN QUERY SELECT count(*) FILTER (WHERE l ~ 'Function Scan'),
                        count(*) FILTER (WHERE l ~ ' on event_log\M')
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
