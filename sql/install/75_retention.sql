
-- Retention -------------------------------------------------------------------------

CREATE FUNCTION @extschema@.purge_events(older_than interval) RETURNS bigint
    AS 'MODULE_PATHNAME', 'candystore_purge_events'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.purge_events(interval) IS
    'Deletes the events that occurred more than older_than ago, except those the outbox has yet to send; returns how many.  The only way events leave the store; for the extension owner only.';
REVOKE ALL ON FUNCTION @extschema@.purge_events(interval) FROM PUBLIC;

CREATE FUNCTION @extschema@.cleanup_outbox(older_than interval DEFAULT '7 days') RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH removed AS (
        DELETE FROM @extschema@.outbox
         WHERE published_at < now() - cleanup_outbox.older_than
        RETURNING 1)
    SELECT count(*) FROM removed
$$;
COMMENT ON FUNCTION @extschema@.cleanup_outbox(interval) IS
    'Deletes outbox rows published more than older_than ago; returns how many.';
REVOKE ALL ON FUNCTION @extschema@.cleanup_outbox(interval) FROM PUBLIC;

-- The id ledger of purged partitions ------------------------------------------
-- purge_events() drops a whole partition without touching a row: event_ids
-- keeps its events' rows, so a purged event redelivered is recognised as a
-- duplicate (not stored again), and this table says which positions are gone
-- (the walks skip them).  forget_purged_ids() trims those rows in batches.
CREATE TABLE @extschema@.purged_ranges (
    first_position  bigint NOT NULL CONSTRAINT purged_ranges_pkey PRIMARY KEY,
    last_position   bigint NOT NULL,
    purged_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.purged_ranges IS
    'Positions of the partitions purge_events() dropped whose ids event_ids still holds.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.purged_ranges', '');
REVOKE ALL ON @extschema@.purged_ranges FROM PUBLIC;

CREATE FUNCTION @extschema@.forget_purged_ids(max_ids bigint DEFAULT 10000) RETURNS bigint
    AS 'MODULE_PATHNAME', 'candystore_forget_purged_ids'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.forget_purged_ids(bigint) IS
    'Deletes up to max_ids event_ids rows of events purged with their partitions (their ids are then no longer recognised as duplicates); returns how many.  Call until it returns 0, vacuuming between calls.';
REVOKE ALL ON FUNCTION @extschema@.forget_purged_ids(bigint) FROM PUBLIC;

-- Retention: partitions detached, dropped later -------------------------------
-- purge_events() detaches the partitions past the horizon into this schema
-- (a catalog change, under event_log's lock only for that); dropping them,
-- whose commit unlinks their files, is drop_purged_partitions()'s job, run by
-- the maintenance job or by hand.  Nothing here is read by candystore.
CREATE SCHEMA candystore_purged;
COMMENT ON SCHEMA candystore_purged IS
    'Partitions of candystore.event_log that purge_events() detached; candystore.drop_purged_partitions() drops them.';

CREATE FUNCTION @extschema@.drop_purged_partitions() RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    purged regclass;
    dropped integer := 0;
BEGIN
    FOR purged IN SELECT c.oid FROM pg_class c
                   WHERE c.relnamespace = 'candystore_purged'::regnamespace AND c.relkind = 'r'
                   ORDER BY c.relname LOOP
        EXECUTE format('DROP TABLE %s', purged);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$;
COMMENT ON FUNCTION @extschema@.drop_purged_partitions() IS
    'Drops the partitions purge_events() detached into candystore_purged (their events are already out of every read); returns how many.';
REVOKE ALL ON FUNCTION @extschema@.drop_purged_partitions() FROM PUBLIC;
