-- candystore 0.1.0 -> 0.2.0.  ALTER EXTENSION candystore UPDATE runs this
-- script on an installation of 0.1.0; afterwards its catalog must equal a
-- fresh CREATE EXTENSION of 0.2.0 (t/upgrade_from_0_1_0.pl compares them).
-- Every change of the SQL surface in sql/install/ is repeated here, in the
-- section of its concern.
\echo Use "ALTER EXTENSION candystore UPDATE TO '0.2.0'" to load this file. \quit

-- Backups: pg_dump keeps the resources users added and the dead letters ------
SELECT pg_catalog.pg_extension_config_dump('@extschema@.schema_resources', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.dead_letters', 'id'), '');

-- Hardening: the outbox refuses what it cannot send ---------------------------
-- Enqueueing checks what AMQP can carry (outbox_checked_routing_key for the
-- replays); the publisher counts a row's failures and parks it after
-- candystore.outbox_max_attempts.  The new columns get no stored default
-- (ADD COLUMN ... DEFAULT would leave a "missing value" a fresh table lacks).
ALTER TABLE @extschema@.outbox ADD COLUMN failures integer;
ALTER TABLE @extschema@.outbox ADD COLUMN parked_at timestamptz;
UPDATE @extschema@.outbox SET failures = 0;
ALTER TABLE @extschema@.outbox ALTER COLUMN failures SET DEFAULT 0;
ALTER TABLE @extschema@.outbox ALTER COLUMN failures SET NOT NULL;

CREATE FUNCTION @extschema@.outbox_checked_routing_key(event_id uuid, routing_key text,
                                                       envelope jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_outbox_checked_routing_key'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.outbox_checked_routing_key(uuid, text, jsonb) IS
    'Internal (replay): returns the routing key when the event can be published to candystore.exchange; raises, naming the event, when AMQP cannot carry it.';
REVOKE ALL ON FUNCTION @extschema@.outbox_checked_routing_key(uuid, text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.replay("from" timestamptz, "to" timestamptz,
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
           AND (replay.routing_key_prefix IS NULL
                OR starts_with(coalesce(e.routing_key, e.event_type), replay.routing_key_prefix))
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;
COMMENT ON FUNCTION @extschema@.replay(timestamptz, timestamptz, text[], text) IS
    'Enqueues the stored events that occurred in [from, to) again, in their original order, marked with the header x-candystore-replay; returns how many.  Refuses the whole call (class 22, naming the event) when one of them cannot be published.';

CREATE OR REPLACE FUNCTION @extschema@.retry_outbox() RETURNS bigint
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

CREATE OR REPLACE FUNCTION @extschema@.replay_trace(event_id uuid) RETURNS bigint
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
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;
COMMENT ON FUNCTION @extschema@.replay_trace(uuid) IS
    'Enqueues every stored event of the causation graph this event belongs to again, in their original order, marked with the header x-candystore-replay; returns how many (0 for an unknown id).  Refuses the whole call (class 22, naming the event) when one of them cannot be published.';
