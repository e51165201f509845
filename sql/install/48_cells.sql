-- Cells ---------------------
-- A cell is one independent candystore installation that stores its share of
-- the stream: RabbitMQ's consistent-hash exchange splits the messages between
-- the cells' queues by a flow key (candystore.cell_exchange and friends, read
-- by the ingest worker).  A reader merges the cells with one cells cursor:
-- '<cell>:<cursor>' entries, one per cell, joined by ',' in cell order, where
-- <cursor> is that cell's read_all() cursor.  Each cell's read_cell() reads
-- on from its own entry (none: from the beginning) and the reader folds each
-- row's cursor back in with cells_cursor_advance().  docs/scaling.md has the
-- procedure and its limits.

CREATE FUNCTION @extschema@.cell_id() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
RETURN NULLIF(pg_catalog.current_setting('candystore.cell_id', true), '');
COMMENT ON FUNCTION @extschema@.cell_id() IS
    'This installation''s cell id (candystore.cell_id), NULL when it is not a cell.';
GRANT EXECUTE ON FUNCTION @extschema@.cell_id() TO candystore_reader;

-- A cells cursor taken apart and checked: one row per cell; NULL or '' has
-- none.  Malformed, or naming a cell twice, raises.
CREATE FUNCTION @extschema@.cells_cursor_entries(cells_cursor text)
    RETURNS TABLE(cell text, cursor text)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF cells_cursor IS NULL OR cells_cursor = '' THEN
        RETURN;
    END IF;
    IF cells_cursor !~ '^[A-Za-z0-9_-]{1,63}:[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}(,[A-Za-z0-9_-]{1,63}:[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15})*$' THEN
        RAISE EXCEPTION 'invalid cells cursor: "%"', left(cells_cursor, 100)
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'A cells cursor is "<cell>:<cursor>" entries joined by ",", each a cursor read_cell() returned.',
                  HINT = 'Pass NULL to read every cell from the beginning.';
    END IF;
    RETURN QUERY
        SELECT split_part(e, ':', 1), split_part(e, ':', 2)
          FROM unnest(string_to_array(cells_cursor, ',')) e;
    IF (SELECT count(DISTINCT split_part(e, ':', 1)) <> count(*)
          FROM unnest(string_to_array(cells_cursor, ',')) e) THEN
        RAISE EXCEPTION 'cells cursor "%" names a cell twice', left(cells_cursor, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Fold cursors in with cells_cursor_advance(), which keeps one entry per cell.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.cells_cursor_entries(text) IS
    'A cells cursor taken apart: one (cell, cursor) row per cell; raises for a malformed one.';
GRANT EXECUTE ON FUNCTION @extschema@.cells_cursor_entries(text) TO candystore_reader;

CREATE FUNCTION @extschema@.cells_cursor_advance(cells_cursor text, cursor text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF cursor IS NULL OR cursor !~ '^[A-Za-z0-9_-]{1,63}:[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}$' THEN
        RAISE EXCEPTION 'invalid cell cursor: "%"', left(coalesce(cursor, 'NULL'), 100)
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'A cell cursor is the cursor of a row read_cell() returned: "<cell>:<cursor>".';
    END IF;
    RETURN (SELECT string_agg(c.cell || ':' || c.cursor, ',' ORDER BY c.cell COLLATE "C")
              FROM (SELECT e.cell, e.cursor
                      FROM @extschema@.cells_cursor_entries(cells_cursor) e
                     WHERE e.cell <> split_part(cells_cursor_advance.cursor, ':', 1)
                    UNION ALL
                    SELECT split_part(cells_cursor_advance.cursor, ':', 1),
                           split_part(cells_cursor_advance.cursor, ':', 2)) c);
END
$$;
COMMENT ON FUNCTION @extschema@.cells_cursor_advance(text, text) IS
    'The cells cursor with the entry of cursor''s cell replaced by cursor (a row''s cursor from read_cell()); the other cells'' entries kept.';
GRANT EXECUTE ON FUNCTION @extschema@.cells_cursor_advance(text, text) TO candystore_reader;

CREATE FUNCTION @extschema@.read_cell(after text, max_count int DEFAULT 1000, event_types text[] DEFAULT NULL)
    RETURNS TABLE(cell_id text, cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql STABLE ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    this_cell text := @extschema@.cell_id();
BEGIN
    IF this_cell IS NULL THEN
        RAISE EXCEPTION 'this installation is not a cell'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'candystore.cell_id is not set.',
                  HINT = 'Set candystore.cell_id in postgresql.conf, or read a single installation with read_all().';
    END IF;
    RETURN QUERY
        SELECT this_cell, this_cell || ':' || r.cursor, r.position, r.event_id, r.event_type,
               r.occurred_at, r.recorded_at, r.envelope
          FROM @extschema@.read_all((SELECT e.cursor FROM @extschema@.cells_cursor_entries(after) e
                                      WHERE e.cell = this_cell), max_count, event_types) r;
END
$$;
COMMENT ON FUNCTION @extschema@.read_cell(text, int, text[]) IS
    'read_all() of this cell for a reader merging cells: reads on from this cell''s entry of the cells cursor after (none: the beginning); each row''s cursor is "<cell>:<cursor>", to fold into the cells cursor with cells_cursor_advance().';
REVOKE ALL ON FUNCTION @extschema@.read_cell(text, int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_cell(text, int, text[]) TO candystore_reader;
