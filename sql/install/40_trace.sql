
-- Causation chains ------------------------------------------------------------
-- correlation_ids holds an event's parent ids.  append() also files every
-- event in a causation group (trace_links.c): an event without parents names
-- its own group, a child joins its first parent's; groups to be read together
-- are linked in causation_links.  The walks (trace.c) read the groups through
-- one index and follow the parent links in memory, each event once.

-- The walks read the groups from event_ids (20_event_log.sql), beside the
-- other columns they read, so a walk never visits event_log's partitions;
-- event_log keeps a copy for the consumer groups of read_partition().
ALTER TABLE @extschema@.event_log ADD COLUMN causation_group uuid NOT NULL;
COMMENT ON COLUMN @extschema@.event_log.causation_group IS
    'Bookkeeping for the causation walks, set by append(): the group this event was filed in.';
ALTER TABLE @extschema@.event_ids ADD COLUMN causation_group uuid NOT NULL;
COMMENT ON COLUMN @extschema@.event_ids.causation_group IS
    'Bookkeeping for the causation walks, set by append(): the group this event was filed in.';
-- The walks read a group's rows from this index alone where the heap page is
-- all-visible (index-only, trace.c): every column they read is in it, the
-- parent ids as the one expression, NULL when more than 64 would not fit an
-- index entry (the walk then fetches the heap row).  position orders a
-- group's rows as they were appended; being unique, it also ends every key
-- comparison, so the key columns after it (fixed-size ones first: read at
-- fixed offsets) cost an insert nothing but their bytes.
CREATE INDEX event_ids_causation_group_idx ON @extschema@.event_ids
    (causation_group, position, event_id, occurred_at,
     (CASE WHEN pg_catalog.cardinality(correlation_ids) <= 64 THEN correlation_ids END))
    INCLUDE (event_type);
-- Index-only reads need the heap pages marked all-visible, which a VACUUM
-- does.  An insert-only table is vacuumed by default after 20% more rows, so
-- in a large store the newest events (the ones traced most) would stay
-- heap-read for long: vacuum it after every 10,000 appends instead (a cheap
-- pass: the pages already all-visible are skipped, no index has dead rows).
ALTER TABLE @extschema@.event_ids SET (autovacuum_vacuum_insert_threshold = 10000,
                                       autovacuum_vacuum_insert_scale_factor = 0);

CREATE TABLE @extschema@.causation_links (
    a   uuid NOT NULL,
    b   uuid NOT NULL,
    PRIMARY KEY (a, b)
);
COMMENT ON TABLE @extschema@.causation_links IS
    'Causation groups to be read together (both directions), and markers (parent id, group) left by children stored before their parent.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.causation_links', '');
REVOKE ALL ON @extschema@.causation_links FROM PUBLIC;

CREATE FUNCTION @extschema@.ancestors(event_id uuid, max_depth int DEFAULT NULL)
    RETURNS TABLE(event_id uuid, event_type text, occurred_at timestamptz, depth int, parent_ids uuid[])
    AS 'MODULE_PATHNAME', 'candystore_ancestors'
    LANGUAGE C STABLE CALLED ON NULL INPUT ROWS 100
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.ancestors(uuid, int) IS
    'Events that caused this one (parents, their parents, ...), each once at its shortest depth; the event itself at depth 0.';

CREATE FUNCTION @extschema@.descendants(event_id uuid, max_depth int DEFAULT NULL)
    RETURNS TABLE(event_id uuid, event_type text, occurred_at timestamptz, depth int, parent_ids uuid[])
    AS 'MODULE_PATHNAME', 'candystore_descendants'
    LANGUAGE C STABLE CALLED ON NULL INPUT ROWS 100
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.descendants(uuid, int) IS
    'Events this one caused (children, their children, ...), each once at its shortest depth; the event itself at depth 0.';

CREATE FUNCTION @extschema@.trace(event_id uuid)
    RETURNS TABLE(event_id uuid, event_type text, occurred_at timestamptz, depth int, parent_ids uuid[])
    AS 'MODULE_PATHNAME', 'candystore_trace'
    LANGUAGE C STABLE STRICT ROWS 100
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.trace(uuid) IS
    'The whole causation graph the event belongs to, depth from its roots; parents not stored yet appear with NULL event_type.';

CREATE FUNCTION @extschema@.events_caused_by(event_id uuid) RETURNS SETOF jsonb
    LANGUAGE sql STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.envelope
      FROM @extschema@.descendants(events_caused_by.event_id) d
      JOIN @extschema@.event_ids i ON i.event_id = d.event_id
      JOIN @extschema@.event_log l ON l.position = i.position
     WHERE @extschema@.event_type_visible(l.event_type)
     ORDER BY l.position
$$;
COMMENT ON FUNCTION @extschema@.events_caused_by(uuid) IS
    'The event and all its descendants as envelopes, in position order.';

-- Rendering -------------------------------------------------------------------
-- One walk of the graph (the one trace() makes), then the text (trace_render.c).

CREATE FUNCTION @extschema@.trace_render(event_id uuid, format text DEFAULT 'tree') RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_trace_render'
    LANGUAGE C STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.trace_render(uuid, text) IS
    'The causation graph of an event as text: tree (indented, for psql), dot (Graphviz) or mermaid (Markdown).';

-- Session timeline ----------------------------------------------------------------
-- An event belongs to a session when its payload carries a top-level
-- "session_id", else a top-level "meeting_id" (Fireflies meetings):
-- coalesce(envelope->'payload'->>'session_id', envelope->'payload'->>'meeting_id'),
-- which append() stores as session_key (session_key.c).

ALTER TABLE @extschema@.event_log ADD COLUMN session_key text;
COMMENT ON COLUMN @extschema@.event_log.session_key IS
    'Set by append(): coalesce(envelope->''payload''->>''session_id'', envelope->''payload''->>''meeting_id'').';
-- A hash index: session_timeline looks a key up by equality and sorts the
-- session's few rows by time itself, so nothing needs the keys' order, and a
-- hash entry costs an append no collation-aware text comparisons (a third to
-- a half less than a btree entry: docs/benchmarks.md, "Append: what each
-- index costs"); it holds the key's hash only, so a key of any length fits.
CREATE INDEX event_log_default_session_idx ON @extschema@.event_log_default USING hash (session_key)
    WHERE session_key IS NOT NULL;

CREATE FUNCTION @extschema@.session_timeline(session_id text)
    RETURNS TABLE("position" bigint, event_id uuid, event_type text, occurred_at timestamptz, envelope jsonb)
    LANGUAGE sql STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.position, l.event_id, l.event_type, l.occurred_at, l.envelope
      FROM @extschema@.event_log l
     WHERE l.session_key = session_timeline.session_id
       AND @extschema@.event_type_visible(l.event_type)
     ORDER BY l.occurred_at, l.position
$$;
COMMENT ON FUNCTION @extschema@.session_timeline(text) IS
    'Events whose payload carries this session_id (or, lacking one, meeting_id), in time order.';

REVOKE ALL ON FUNCTION @extschema@.ancestors(uuid, int), @extschema@.descendants(uuid, int),
    @extschema@.trace(uuid), @extschema@.events_caused_by(uuid), @extschema@.trace_render(uuid, text),
    @extschema@.session_timeline(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.ancestors(uuid, int), @extschema@.descendants(uuid, int),
    @extschema@.trace(uuid), @extschema@.events_caused_by(uuid), @extschema@.trace_render(uuid, text),
    @extschema@.session_timeline(text) TO candystore_reader;
