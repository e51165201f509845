-- pg_temp.pages(query): the shared buffers one statement touches (its own
-- and its functions'), from EXPLAIN (ANALYZE, BUFFERS): work counted, not timed.
CREATE FUNCTION pg_temp.pages(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ' || query INTO plan;
    RETURN (plan->0->'Plan'->>'Shared Hit Blocks')::bigint
         + (plan->0->'Plan'->>'Shared Read Blocks')::bigint;
END
$$;
