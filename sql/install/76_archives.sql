
-- Archives ------------------------------------------------------------------------
-- A run of positions to a gzip-compressed JSON Lines file on the server, with
-- a manifest beside it, and back (src/archive.c; docs/operations.md,
-- "Archives").  Server files: the caller needs pg_write_server_files (to
-- archive) or pg_read_server_files (to restore), or superuser, checked as
-- COPY checks them; EXECUTE is granted to no one but the owner.

CREATE FUNCTION @extschema@.archive_events(path text, first_position bigint, last_position bigint)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'candystore_archive_events'
    LANGUAGE C VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.archive_events(text, bigint, bigint) IS
    'Writes the events of positions first_position..last_position to path (gzip JSON Lines, never overwriting) and path.manifest.json; returns the manifest.';
REVOKE ALL ON FUNCTION @extschema@.archive_events(text, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.archive_partition(partition regclass, path text) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lo bigint;
    hi bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_inherits
                    WHERE inhrelid = partition
                      AND inhparent = '@extschema@.event_log'::regclass) THEN
        RAISE EXCEPTION '% is not a partition of candystore.event_log', partition
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('SELECT min(position), max(position) FROM %s', partition) INTO lo, hi;
    -- An empty partition: positions 0..0, which no event holds.
    RETURN @extschema@.archive_events(path, coalesce(lo, 0), coalesce(hi, 0));
END
$$;
COMMENT ON FUNCTION @extschema@.archive_partition(regclass, text) IS
    'archive_events() of the positions one partition of event_log holds.';
REVOKE ALL ON FUNCTION @extschema@.archive_partition(regclass, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.restore_archive(path text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'candystore_restore_archive'
    LANGUAGE C VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.restore_archive(text) IS
    'Checks an archive against its manifest and appends its envelopes through append_many() at new positions; returns the counts.  Restoring twice stores nothing new.';
REVOKE ALL ON FUNCTION @extschema@.restore_archive(text) FROM PUBLIC;
