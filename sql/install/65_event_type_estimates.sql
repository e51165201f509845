
-- Events by type, cheaply, for /metrics ------------------------------------
-- Counting the event log by type reads all of it.  The planner's statistics
-- already hold the answer, approximately: the most common event types and
-- their frequencies (pg_stats, refreshed by ANALYZE / autovacuum) times the
-- table's estimated row count.  Readers may not read event_log's statistics
-- themselves (pg_stats shows only tables the caller may select), hence
-- SECURITY DEFINER.  Types beyond the most common values (more than
-- default_statistics_target, or too rare to be sampled) are summed in one
-- row whose event_type is NULL.
CREATE FUNCTION @extschema@.event_type_estimates(OUT event_type text, OUT estimated bigint)
    RETURNS SETOF record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (SELECT greatest(c.reltuples, 0) AS n FROM pg_catalog.pg_class c
                WHERE c.oid = '@extschema@.event_log'::pg_catalog.regclass),
         s AS (SELECT st.most_common_vals::text::text[] AS vals, st.most_common_freqs AS freqs
                 FROM pg_catalog.pg_stats st
                WHERE st.schemaname = '@extschema@' AND st.tablename = 'event_log'
                  AND st.attname = 'event_type'),
         mcv AS (SELECT v.val, v.freq FROM s, unnest(s.vals, s.freqs) AS v(val, freq))
    SELECT mcv.val, round(mcv.freq * t.n)::bigint FROM mcv, t
     WHERE @extschema@.event_type_visible(mcv.val)
    UNION ALL
    SELECT NULL, round(greatest(1 - coalesce((SELECT sum(freq) FROM mcv), 0), 0) * t.n)::bigint
      FROM t WHERE t.n > 0
$$;
COMMENT ON FUNCTION @extschema@.event_type_estimates() IS
    'Stored events by type as the planner estimates them (pg_stats most common values times pg_class.reltuples, as of the last ANALYZE); the types it does not list are summed in one row with a NULL event_type.';
REVOKE ALL ON FUNCTION @extschema@.event_type_estimates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_estimates() TO candystore_reader;
