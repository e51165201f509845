
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
