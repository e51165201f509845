
-- The store -------------------------------------------------------------------
-- event_log keeps each envelope verbatim (so get_event gives back exactly what
-- was appended, unknown fields included) beside the few columns that are
-- indexed.  Rows are only ever inserted, by append().
--
-- event_log is partitioned by range of position (docs/internals.md,
-- "Partitions"): a position is assigned once, in order, so a partition is a
-- closed run of positions that cursors and retention can reason about, and
-- retention drops whole partitions.  PostgreSQL cannot keep an index unique
-- across partitions unless it holds the partition key, so event ids are kept
-- unique by event_ids, an unpartitioned narrow table written in the same
-- statement as event_log: it assigns the position, carries the columns the
-- causation walks read (so trace.c and trace_links.c scan its indexes, as
-- they scanned event_log's before) and finds a stored event by id in one
-- index probe whatever its partition.

CREATE TABLE @extschema@.event_ids (
    event_id        uuid NOT NULL CONSTRAINT event_ids_pkey PRIMARY KEY,
    position        bigint GENERATED ALWAYS AS IDENTITY,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    correlation_ids uuid[] NOT NULL
);
COMMENT ON TABLE @extschema@.event_ids IS
    'Every stored event''s id and position (unique across event_log''s partitions) and what the causation walks read.';

CREATE TABLE @extschema@.event_log (
    position        bigint NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,       -- the envelope's "timestamp"
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    routing_key     text,
    correlation_ids uuid[] NOT NULL,            -- parent event ids
    envelope        jsonb NOT NULL
) PARTITION BY RANGE (position);
COMMENT ON TABLE @extschema@.event_log IS
    'Every stored event, append-only; read it through candystore.events.';

-- No index on event_log itself: its partitions have theirs (below).  An
-- index of the partitioned table would be the extension's while range
-- partitions are not (below), and pg_restore, attaching a dumped partition,
-- would build the partition's indexes before restoring their dumped
-- definitions, and fail.  Deletes (purge_events) are published through the
-- root with the whole row, the root having no key (docs/operations.md).
ALTER TABLE @extschema@.event_log REPLICA IDENTITY FULL;

-- pg_dump keeps extension tables' definitions only; these keep the data too.
-- A partitioned table holds no rows of its own (its partitions: below).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_ids', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.event_ids', 'position'), '');

CREATE FUNCTION @extschema@.forbid_change() RETURNS trigger
    AS 'MODULE_PATHNAME', 'candystore_forbid_change'
    LANGUAGE C;

CREATE TRIGGER event_log_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_log
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
-- ALWAYS: also with session_replication_role = replica, where ordinary
-- triggers do not fire.
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_immutable;
-- A statement trigger on the parent does not fire for a statement naming a
-- partition; this row trigger is cloned to every partition (TRUNCATE of a
-- partition is refused by the trigger make_partition() gives each one).
CREATE TRIGGER event_log_rows_immutable
    BEFORE UPDATE OR DELETE ON @extschema@.event_log
    FOR EACH ROW EXECUTE FUNCTION @extschema@.forbid_change();
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_rows_immutable;
CREATE TRIGGER event_ids_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_ids
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
ALTER TABLE @extschema@.event_ids ENABLE ALWAYS TRIGGER event_ids_immutable;

-- Partitions --------------------------------------------------------------------
-- event_log_default catches a position beyond the partitions made ahead, so an
-- append never fails for want of a partition; make_partitions() (run by
-- schedule_maintenance's job, or by hand) keeps partitions ahead of the
-- positions so that it stays empty.

CREATE FUNCTION @extschema@.make_partition(first_position bigint, size bigint, count integer DEFAULT 1)
    RETURNS void
    AS 'MODULE_PATHNAME', 'candystore_make_partition'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.make_partition(bigint, bigint, integer) IS
    'Makes count event_log partitions of size positions from first_position on, moving their rows out of the default partition.';
REVOKE ALL ON FUNCTION @extschema@.make_partition(bigint, bigint, integer) FROM PUBLIC;

-- The range partitions of event_log, in position order.
CREATE VIEW @extschema@.event_log_partitions AS
SELECT c.oid::regclass AS partition,
       b.first_position,
       b.end_position - 1 AS last_position
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  CROSS JOIN LATERAL (
      SELECT (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                      'FROM \(''?(\d+)''?\) TO \(''?(\d+)''?\)'))::bigint[] AS r) m
  CROSS JOIN LATERAL (SELECT m.r[1] AS first_position, m.r[2] AS end_position) b
 WHERE i.inhparent = '@extschema@.event_log'::regclass
   AND m.r IS NOT NULL;
COMMENT ON VIEW @extschema@.event_log_partitions IS
    'event_log''s range partitions: positions first to last.';
REVOKE ALL ON @extschema@.event_log_partitions FROM PUBLIC;

CREATE FUNCTION @extschema@.make_partitions(ahead integer DEFAULT 4, size bigint DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newest record;
    width bigint;
    next_first bigint;
    reached bigint;
    made integer;
BEGIN
    IF ahead < 1 THEN
        RAISE EXCEPTION 'ahead must be at least 1, not %', ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO newest FROM @extschema@.event_log_partitions ORDER BY first_position DESC LIMIT 1;
    width := coalesce(size, newest.last_position - newest.first_position + 1, 1000000);
    next_first := coalesce(newest.last_position + 1, 1);
    -- the highest position handed out so far (or 0)
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO reached
      FROM @extschema@.event_ids_position_seq;
    -- every partition in one call: rows to move leave the default partition at once
    made := greatest(0, ceil((reached + ahead::numeric * width - next_first + 1) / width))::integer;
    IF made > 0 THEN
        PERFORM @extschema@.make_partition(next_first, width, made);
    END IF;
    RETURN QUERY SELECT format('event_log_p%s', next_first + i * width)
                   FROM pg_catalog.generate_series(0, made - 1) i;
END
$$;
COMMENT ON FUNCTION @extschema@.make_partitions(integer, bigint) IS
    'Makes event_log partitions until ahead partitions lie beyond the last position handed out, each of size positions (by default the newest partition''s); returns their names.';
REVOKE ALL ON FUNCTION @extschema@.make_partitions(integer, bigint) FROM PUBLIC;

-- Range partitions are ordinary tables attached to event_log (not members of
-- the extension), so pg_dump keeps them, their bounds and their rows whatever
-- the restoring installation would have made; the default partition is the
-- extension's own, its rows marked for pg_dump.
CREATE TABLE @extschema@.event_log_default PARTITION OF @extschema@.event_log DEFAULT;
-- The default partition's indexes are every partition's: make_partition()
-- copies them (CREATE TABLE ... LIKE event_log_default INCLUDING INDEXES).
ALTER TABLE @extschema@.event_log_default ADD CONSTRAINT event_log_default_pkey PRIMARY KEY (position);
CREATE INDEX event_log_default_event_type_idx ON @extschema@.event_log_default (event_type, position);
CREATE INDEX event_log_default_occurred_at_idx ON @extschema@.event_log_default (occurred_at);
-- event_ids keeps ids unique and is what append, get_event and the walks
-- use; this index keeps `events WHERE event_id = ...` (SQL readers, the HTTP
-- server) an index probe per partition instead of a scan of the store.  A
-- hash index: it is only ever probed by equality, and a random uuid costs a
-- btree a descent with a key comparison per step (a hash entry costs an append
-- less in a large partition: docs/benchmarks.md, "Append: what each index
-- costs").
CREATE INDEX event_log_default_event_id_idx ON @extschema@.event_log_default USING hash (event_id);
-- No index on correlation_ids: an event's children are found through the
-- causation groups (40_trace.sql; descendants(id, 1)), which cost an append
-- less than a GIN entry would.
CREATE TRIGGER event_log_truncate_refused BEFORE TRUNCATE ON @extschema@.event_log_default
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
ALTER TABLE @extschema@.event_log_default ENABLE ALWAYS TRIGGER event_log_truncate_refused;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_log_default', '');

CREATE FUNCTION @extschema@.guard_partitions() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'candystore_guard_partitions'
    LANGUAGE C;
COMMENT ON FUNCTION @extschema@.guard_partitions() IS
    'Refuses DROP TABLE of event_log or a partition, DETACH PARTITION, and ATTACH PARTITION of a table holding rows, outside candystore''s own functions.';
REVOKE ALL ON FUNCTION @extschema@.guard_partitions() FROM PUBLIC;
CREATE EVENT TRIGGER candystore_guard_partitions ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TABLE')
    EXECUTE FUNCTION @extschema@.guard_partitions();
-- ALWAYS: event triggers too are off with session_replication_role = replica
ALTER EVENT TRIGGER candystore_guard_partitions ENABLE ALWAYS;

CREATE VIEW @extschema@.events AS
SELECT position,
       event_id,
       event_type,
       occurred_at,
       recorded_at,
       envelope->>'version'     AS version,
       envelope->'source'       AS source,
       correlation_ids,
       envelope->'agent_context' AS agent_context,
       envelope->'trace_context' AS trace_context,
       envelope->'payload'      AS payload,
       routing_key,
       envelope
  FROM @extschema@.event_log
 WHERE @extschema@.event_type_visible(event_type);
COMMENT ON VIEW @extschema@.events IS
    'The stored events the invoking role may see, one row each, in the envelope''s own terms.';

REVOKE ALL ON @extschema@.event_log FROM PUBLIC;
REVOKE ALL ON @extschema@.event_ids FROM PUBLIC;
GRANT SELECT ON @extschema@.events TO candystore_reader;
