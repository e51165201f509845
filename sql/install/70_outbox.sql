
-- The transactional outbox -------------------------------------------------------
-- publish() appends an event and enqueues it here in the caller's transaction;
-- the outbox publisher worker sends committed rows to RabbitMQ and marks them
-- published once the broker has confirmed them.  replay() enqueues stored
-- events again.  What AMQP cannot carry (a routing key or exchange name over
-- 255 bytes, a body over candystore.outbox_max_message_bytes) is refused when
-- it is enqueued.  A row the broker refuses, or that cannot be sent, is tried
-- again with backoff; after candystore.outbox_max_attempts failures it is
-- parked until retry_outbox().

CREATE TABLE @extschema@.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- send order
    position        bigint NOT NULL,        -- the event (candystore.events.position)
    exchange        text,                   -- NULL: the publisher's candystore.exchange
    routing_key     text NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}',    -- extra AMQP headers, e.g. the replay mark
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,            -- NULL: now
    last_error      text,
    published_at    timestamptz,            -- NULL until the broker confirmed it
    failures        integer NOT NULL DEFAULT 0, -- attempts refused or unsendable
    parked_at       timestamptz             -- set: given up until retry_outbox()
);
COMMENT ON TABLE @extschema@.outbox IS
    'Events waiting to be (or already) published to RabbitMQ, in send order.';
CREATE INDEX outbox_pending_idx ON @extschema@.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_position_idx ON @extschema@.outbox (position);
-- rows waiting for a retry (parked rows: until 'infinity') hold back later
-- rows of their routing key
CREATE INDEX outbox_retry_idx ON @extschema@.outbox (routing_key, id)
    WHERE published_at IS NULL AND next_attempt_at IS NOT NULL;
CREATE INDEX outbox_published_at_idx ON @extschema@.outbox (published_at) WHERE published_at IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.outbox', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.outbox', 'id'), '');
REVOKE ALL ON @extschema@.outbox FROM PUBLIC;
GRANT SELECT ON @extschema@.outbox TO candystore_reader;

CREATE FUNCTION @extschema@.publish(envelope jsonb, routing_key text DEFAULT NULL,
                                    exchange text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'candystore_publish'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.publish(jsonb, text, text) IS
    'Appends an event (as append does) and, when it is new, enqueues it for publishing once the transaction commits.  Returns its position.';
REVOKE ALL ON FUNCTION @extschema@.publish(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.publish(jsonb, text, text) TO candystore_writer;

CREATE FUNCTION @extschema@.outbox_wake() RETURNS void
    AS 'MODULE_PATHNAME', 'candystore_outbox_wake'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.outbox_wake() IS
    'Wakes the outbox publisher when the current transaction commits (publish() does this itself; for SQL that enqueues rows).';
REVOKE ALL ON FUNCTION @extschema@.outbox_wake() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.outbox_wake() TO candystore_writer;

CREATE FUNCTION @extschema@.outbox_checked_routing_key(event_id uuid, routing_key text,
                                                       envelope jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_outbox_checked_routing_key'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.outbox_checked_routing_key(uuid, text, jsonb) IS
    'Internal (replay): returns the routing key when the event can be published to candystore.exchange; raises, naming the event, when AMQP cannot carry it.';
REVOKE ALL ON FUNCTION @extschema@.outbox_checked_routing_key(uuid, text, jsonb) FROM PUBLIC;

CREATE FUNCTION @extschema@.replay("from" timestamptz, "to" timestamptz,
                                   event_types text[] DEFAULT NULL,
                                   routing_key_prefix text DEFAULT NULL) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.outbox_wake();
    WITH enqueued AS (
        INSERT INTO @extschema@.outbox (position, routing_key, headers)
        -- one event AMQP cannot carry refuses the whole replay
        SELECT e.position,
               @extschema@.outbox_checked_routing_key(e.event_id, coalesce(e.routing_key, e.event_type),
                                                      e.envelope),
               '{"x-candystore-replay": true}'
          FROM @extschema@.event_log e
         WHERE e.occurred_at >= replay."from" AND e.occurred_at < replay."to"
           AND (replay.event_types IS NULL OR e.event_type = ANY (replay.event_types))
           AND @extschema@.event_type_visible(e.event_type)
           AND (replay.routing_key_prefix IS NULL
                OR starts_with(coalesce(e.routing_key, e.event_type), replay.routing_key_prefix))
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;
COMMENT ON FUNCTION @extschema@.replay(timestamptz, timestamptz, text[], text) IS
    'Enqueues the stored events that occurred in [from, to) again, in their original order, marked with the header x-candystore-replay; returns how many.  Refuses the whole call (class 22, naming the event) when one of them cannot be published.';
REVOKE ALL ON FUNCTION @extschema@.replay(timestamptz, timestamptz, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replay(timestamptz, timestamptz, text[], text) TO candystore_writer;

CREATE FUNCTION @extschema@.retry_outbox() RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.outbox_wake();
    WITH due AS (
        UPDATE @extschema@.outbox SET next_attempt_at = NULL, parked_at = NULL, failures = 0
         WHERE published_at IS NULL AND next_attempt_at > now()
        RETURNING 1)
    SELECT count(*) FROM due
$$;
COMMENT ON FUNCTION @extschema@.retry_outbox() IS
    'Makes the pending outbox rows that wait for a retry or are parked due now, with their failures forgotten, and wakes the publisher; returns how many.';
REVOKE ALL ON FUNCTION @extschema@.retry_outbox() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.retry_outbox() TO candystore_writer;

-- The publisher's counters join the ingest worker's in candystore.stats -----------

CREATE FUNCTION @extschema@.publisher_stats(
    OUT published bigint, OUT confirms bigint, OUT nacks bigint, OUT retries bigint,
    OUT batches bigint, OUT reconnects bigint)
    AS 'MODULE_PATHNAME', 'candystore_publisher_stats'
    LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.publisher_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.publisher_stats() TO candystore_reader;

CREATE OR REPLACE VIEW @extschema@.stats AS
SELECT w.*,
       q.pending AS outbox_pending,
       p.published AS outbox_published,
       p.confirms AS outbox_confirms,
       p.nacks AS outbox_nacks,
       p.retries AS outbox_retries,
       q.oldest_pending_age AS outbox_oldest_pending_age,
       p.batches AS outbox_batches,
       p.reconnects AS outbox_reconnects,
       q.parked AS outbox_parked
  FROM @extschema@.worker_stats() w,
       @extschema@.publisher_stats() p,
       (SELECT count(*) AS pending, now() - min(enqueued_at) AS oldest_pending_age,
               count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
          FROM @extschema@.outbox WHERE published_at IS NULL) q;
COMMENT ON VIEW @extschema@.stats IS
    'Ingest worker and outbox publisher counters since server start (shared memory; zero when candystore is not in shared_preload_libraries), and the outbox rows pending (of them, parked) now.';
