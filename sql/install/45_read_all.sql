
-- Reading the store as a stream -------------------------------------------------
-- Positions are taken at insert time but transactions commit in any order, so
-- "position > last seen" skips an event whose transaction commits after a
-- later position was read.  Each row therefore records its inserting
-- (top-level) transaction id, and a reader returns only rows whose xid is
-- below the read horizon: the xmin of its snapshot (every transaction below it
-- has ended, so no row can ever appear there again), or its own xid when it
-- holds one (its own rows are not settled until it commits).  Rows are
-- returned in (xid, position) order and the cursor is that pair, as text of
-- fixed width, so cursors sort as text in reading order.
--
-- The cost: a transaction anywhere in the cluster that holds an xid (that
-- has written something) holds the horizon back while it runs, and readers
-- see nothing newer than it until it ends; they stall, they never skip.
-- candystore.read_horizon names the transaction holding it.

ALTER TABLE @extschema@.event_log ADD COLUMN xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id();
COMMENT ON COLUMN @extschema@.event_log.xid IS
    'Bookkeeping for read_all(): the transaction that stored the event (its top-level id).';
-- Keys are unique (position is) and arrive mostly in ascending order (xids
-- grow): nothing to deduplicate, and full pages are what a rightmost split
-- should leave.  Both save instructions on every append.
CREATE INDEX event_log_default_xid_idx ON @extschema@.event_log_default (xid, position)
    WITH (fillfactor = 100, deduplicate_items = off);

-- The cursor: 16 hex digits of the xid, '-', 16 hex digits of the position.
CREATE FUNCTION @extschema@.cursor_encode(xid xid8, "position" bigint) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_cursor_encode'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cursor_encode(xid8, bigint) IS
    'The read_all() cursor of the event stored by transaction xid at position.';

-- The horizon this transaction may read below (see above).
CREATE FUNCTION @extschema@.read_horizon_xid() RETURNS xid8
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
RETURN LEAST(pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()),
             pg_catalog.pg_current_xact_id_if_assigned());
COMMENT ON FUNCTION @extschema@.read_horizon_xid() IS
    'The read horizon of this transaction: read_all() returns the events stored by transactions below it.';

-- A cursor taken apart and checked: malformed, or ahead of the horizon (no
-- read can have returned it yet), raises; NULL is the beginning.
CREATE FUNCTION @extschema@.cursor_decode(cursor text, OUT xid xid8, OUT "position" bigint)
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    x bigint;
BEGIN
    IF cursor IS NULL THEN
        xid := '0'::xid8;
        "position" := 0;
        RETURN;
    END IF;
    IF cursor !~ '^[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}$' THEN
        RAISE EXCEPTION 'invalid cursor: "%"', left(cursor, 100)
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'A cursor is a value read_all() or read_subscription() returned: 16 hex digits, "-", 16 hex digits.',
                  HINT = 'Pass NULL to read from the beginning.';
    END IF;
    x := ('x' || substr(cursor, 1, 16))::bit(64)::bigint;
    "position" := ('x' || substr(cursor, 18, 16))::bit(64)::bigint;
    xid := x::text::xid8;
    IF xid >= @extschema@.read_horizon_xid() THEN
        RAISE EXCEPTION 'cursor "%" is ahead of the read horizon', cursor
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It names transaction %s; this session reads below %s.', xid, @extschema@.read_horizon_xid()),
                  HINT = 'Pass back a cursor a read of this database returned.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.cursor_decode(text) IS
    'A read_all() cursor taken apart (NULL: the beginning); raises for a malformed cursor or one ahead of the read horizon.';

CREATE FUNCTION @extschema@.read_partition(after text, max_count int, event_types text[],
                                            member int, group_size int)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    horizon xid8;
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF group_size IS NULL OR group_size < 1 OR member IS NULL OR member < 0 OR member >= group_size THEN
        RAISE EXCEPTION 'member % of a group of % does not exist',
                        coalesce(member::text, 'NULL'), coalesce(group_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Members are numbered from 0 to group_size - 1.';
    END IF;
    c := @extschema@.cursor_decode(after);
    horizon := @extschema@.read_horizon_xid();
    RETURN QUERY
        SELECT @extschema@.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
               e.occurred_at, e.recorded_at, e.envelope
          FROM @extschema@.event_log e
         WHERE (e.xid, e.position) > (c.xid, c.position)
           AND e.xid < horizon
           AND (read_partition.event_types IS NULL OR e.event_type = ANY (read_partition.event_types))
           AND @extschema@.event_type_visible(e.event_type)
           AND (group_size = 1
                OR ('x' || right(e.causation_group::text, 7))::bit(28)::int % group_size = member)
         ORDER BY e.xid, e.position
         LIMIT max_count;
END
$$;
COMMENT ON FUNCTION @extschema@.read_partition(text, int, text[], int, int) IS
    'read_all() restricted to one member of a consumer group: the events whose causation group falls to member (0 .. group_size - 1).';
REVOKE ALL ON FUNCTION @extschema@.read_partition(text, int, text[], int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_partition(text, int, text[], int, int) TO candystore_reader;

-- What read_all() reads: the stored events with the transaction that stored
-- each.  read_all() runs with its caller's rights, so that the planner can
-- inline it into the caller's query (no SECURITY DEFINER, no SET, one
-- SELECT): a catch-up read then costs what the bare index scan costs, where
-- a plpgsql body materialised every batch once more.  Readers see the same
-- events through candystore.events.
CREATE VIEW @extschema@.event_stream AS
SELECT xid, position, event_id, event_type, occurred_at, recorded_at, envelope
  FROM @extschema@.event_log
 WHERE @extschema@.event_type_visible(event_type);
COMMENT ON VIEW @extschema@.event_stream IS
    'The stored events the invoking role may see with the transaction that stored each (xid), as read_all() reads them.';
GRANT SELECT ON @extschema@.event_stream TO candystore_reader;

-- read_all()'s max_count, checked where the query cannot raise itself.
CREATE FUNCTION @extschema@.checked_max_count(max_count int) RETURNS int
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN max_count;
END
$$;
COMMENT ON FUNCTION @extschema@.checked_max_count(int) IS
    'max_count when it is at least 1; raises otherwise.';

-- The same read as read_partition() without the member's predicate, written
-- as one SQL statement the planner inlines (see event_stream above); its body
-- is bound at creation (BEGIN ATOMIC), so the caller's search_path cannot
-- change what it calls.
CREATE FUNCTION @extschema@.read_all(after text, max_count int DEFAULT 1000, event_types text[] DEFAULT NULL)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE sql STABLE ROWS 1000
BEGIN ATOMIC
    SELECT @extschema@.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
           e.occurred_at, e.recorded_at, e.envelope
      FROM @extschema@.event_stream e
     WHERE (e.xid, e.position) > ((@extschema@.cursor_decode(after)).xid,
                                  (@extschema@.cursor_decode(after)).position)
       AND e.xid < @extschema@.read_horizon_xid()
       AND (event_types IS NULL OR e.event_type = ANY (event_types))
     ORDER BY e.xid, e.position
     LIMIT @extschema@.checked_max_count(max_count);
END;
COMMENT ON FUNCTION @extschema@.read_all(text, int, text[]) IS
    'Up to max_count events after the cursor (NULL: from the beginning), each exactly once, in a stable order, whatever order their transactions commit in; pass the last row''s cursor back to read on.';
REVOKE ALL ON FUNCTION @extschema@.read_all(text, int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_all(text, int, text[]) TO candystore_reader;

-- What holds the horizon back: the oldest transaction holding an xid.
CREATE VIEW @extschema@.read_horizon AS
SELECT @extschema@.read_horizon_xid() AS horizon,
       o.xid AS oldest_xid, o.pid AS oldest_pid, o.datname AS oldest_database,
       o.usename AS oldest_user, o.xact_start AS oldest_xact_start,
       pg_catalog.now() - o.xact_start AS oldest_age, o.state AS oldest_state, o.prepared AS oldest_is_prepared,
       (SELECT pg_catalog.count(*) FROM @extschema@.event_log e
         WHERE e.xid >= @extschema@.read_horizon_xid()) AS waiting_events
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (
        SELECT t.* FROM (
            SELECT a.backend_xid AS xid, a.pid, a.datname::text AS datname, a.usename::text AS usename,
                   a.xact_start, a.state, false AS prepared
              FROM pg_catalog.pg_stat_activity a
             WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid()
            UNION ALL
            SELECT p.transaction, NULL, p.database::text, p.owner::text, p.prepared, 'prepared', true
              FROM pg_catalog.pg_prepared_xacts p) t
         ORDER BY pg_catalog.age(t.xid) DESC
         LIMIT 1) o ON true;
COMMENT ON VIEW @extschema@.read_horizon IS
    'The read horizon; the oldest other transaction holding an xid, which holds it back (readers see no event stored by a later transaction until it ends); and waiting_events, the committed events readers cannot see yet because of it.';
GRANT SELECT ON @extschema@.read_horizon TO candystore_reader;

CREATE FUNCTION @extschema@.wait_for_events(after text, timeout interval DEFAULT '30 seconds') RETURNS boolean
    AS 'MODULE_PATHNAME', 'candystore_wait_for_events'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.wait_for_events(text, interval) IS
    'Waits until read_all(after) has an event to return (true) or the timeout passes (false); woken when a transaction that appended ends.';
REVOKE ALL ON FUNCTION @extschema@.wait_for_events(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.wait_for_events(text, interval) TO candystore_reader;
