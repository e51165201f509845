
-- Replaying one causation graph ------------------------------------------------------
-- replay_trace() enqueues every stored event of the graph an event belongs to
-- (candystore.trace), as replay() does for a time window.

CREATE FUNCTION @extschema@.replay_trace(event_id uuid) RETURNS bigint
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH enqueued AS (
        INSERT INTO @extschema@.outbox (position, routing_key, headers)
        -- one event AMQP cannot carry refuses the whole replay
        SELECT e.position,
               @extschema@.outbox_checked_routing_key(e.event_id, coalesce(e.routing_key, e.event_type),
                                                      e.envelope),
               '{"x-candystore-replay": true}'
          FROM @extschema@.event_log e
         -- parents that have not arrived are in the trace, not in the store
         WHERE e.event_id IN (SELECT t.event_id FROM @extschema@.trace(replay_trace.event_id) t)
           AND @extschema@.event_type_visible(e.event_type)
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;
COMMENT ON FUNCTION @extschema@.replay_trace(uuid) IS
    'Enqueues every stored event of the causation graph this event belongs to again, in their original order, marked with the header x-candystore-replay; returns how many (0 for an unknown id).  Refuses the whole call (class 22, naming the event) when one of them cannot be published.';
REVOKE ALL ON FUNCTION @extschema@.replay_trace(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replay_trace(uuid) TO candystore_writer;
