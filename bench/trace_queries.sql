-- bench/trace_queries.sql: the measured causation queries and their timing,
-- shared by bench/trace.sql and bench/large_store.sql (after trace_data.sql).

-- The measured queries: name, start event, candystore call, naive function.
CREATE TEMP TABLE queries(ord int, query text, start uuid, candystore text, naive text);
INSERT INTO queries VALUES
    (1, 'descendants(wide root)', md5('w3')::uuid, 'candystore.descendants', 'descendants'),
    (2, 'ancestors(deep leaf)', md5('c3.1000')::uuid, 'candystore.ancestors', 'ancestors'),
    (3, 'trace(mixed graph)', md5('x50.250')::uuid, 'candystore.trace', 'trace'),
    (4, 'trace(short flow)', md5('f1000.3')::uuid, 'candystore.trace', 'trace'),
    (5, 'descendants(wide root, interleaved)', md5('W3')::uuid, 'candystore.descendants', 'descendants'),
    (6, 'ancestors(deep leaf, interleaved)', md5('C3.1000')::uuid, 'candystore.ancestors', 'ancestors');

-- Median of :runs timings of one query (after one warm-up run), in ms.
CREATE FUNCTION pg_temp.median_ms(q text, runs int) RETURNS TABLE(ms numeric, n bigint) LANGUAGE plpgsql AS $$
DECLARE t timestamptz; times numeric[] := '{}'; cnt bigint;
BEGIN
    EXECUTE q INTO cnt;     -- warm-up
    FOR i IN 1..runs LOOP
        t := clock_timestamp();
        EXECUTE q INTO cnt;
        times := times || (extract(epoch FROM clock_timestamp() - t) * 1000)::numeric;
    END LOOP;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) INTO ms FROM unnest(times) x;
    n := cnt;
    RETURN NEXT;
END $$;
