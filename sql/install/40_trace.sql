
-- Causation chains ------------------------------------------------------------
-- correlation_ids holds an event's parent ids.  append() also files every
-- event in a causation group (trace_links.c): an event without parents names
-- its own group, a child joins its first parent's; groups to be read together
-- are linked in causation_links.  The walks (trace.c) read the groups through
-- one index and follow the parent links in memory, each event once.

ALTER TABLE @extschema@.event_log ADD COLUMN causation_group uuid NOT NULL;
COMMENT ON COLUMN @extschema@.event_log.causation_group IS
    'Bookkeeping for the causation walks, set by append(): the group this event was filed in.';
CREATE INDEX event_log_causation_group_idx ON @extschema@.event_log (causation_group);

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
      JOIN @extschema@.event_log l ON l.event_id = d.event_id
     ORDER BY l.position
$$;
COMMENT ON FUNCTION @extschema@.events_caused_by(uuid) IS
    'The event and all its descendants as envelopes, in position order.';

-- Rendering -------------------------------------------------------------------

CREATE FUNCTION @extschema@.trace_render(event_id uuid, format text DEFAULT 'tree') RETURNS text
    LANGUAGE plpgsql STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids     uuid[];
    types   text[];
    times   timestamptz[];
    parents uuid[][];
    idx     jsonb := '{}';          -- event id -> array index
    kids    jsonb := '{}';          -- event id -> [child index, ...]
    r       record;
    n       int := 0;
    out     text[] := '{}';
    shown   jsonb := '{}';
    stack   int[] := '{}';
    levels  int[] := '{}';
    cur     int;
    lvl     int;
    k       jsonb;
    p       uuid;
    label   text;
BEGIN
    IF format NOT IN ('tree', 'dot', 'mermaid') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = pg_catalog.format('unknown trace_render format "%s"', format),
            HINT = 'Use tree, dot or mermaid.';
    END IF;
    FOR r IN SELECT * FROM @extschema@.trace(trace_render.event_id) LOOP
        n := n + 1;
        ids[n] := r.event_id;
        types[n] := r.event_type;
        times[n] := r.occurred_at;
        idx := idx || jsonb_build_object(r.event_id::text, n);
    END LOOP;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    -- children lists, in position order (trace rows come by depth, position)
    FOR r IN SELECT t.event_id, t.ord, pid
               FROM @extschema@.trace(trace_render.event_id) WITH ORDINALITY AS t(event_id, event_type, occurred_at, depth, parent_ids, ord),
                    LATERAL (SELECT DISTINCT x AS pid FROM unnest(t.parent_ids) x) u
              WHERE pid <> t.event_id
              ORDER BY t.ord LOOP
        kids := jsonb_set(kids, ARRAY[r.pid::text],
                          coalesce(kids->(r.pid::text), '[]') || to_jsonb(r.ord));
    END LOOP;

    IF format = 'dot' THEN
        out := out || 'digraph trace {'::text || '  rankdir=TB;  node [shape=box, fontname="monospace"];'::text;
        FOR cur IN 1..n LOOP
            out := out || pg_catalog.format('  "%s" [label="%s\n%s"%s];', ids[cur],
                coalesce(types[cur], 'missing'), left(ids[cur]::text, 8),
                CASE WHEN types[cur] IS NULL THEN ', style=dashed' ELSE '' END);
        END LOOP;
        FOR r IN SELECT key, value FROM jsonb_each(kids) LOOP
            FOR k IN SELECT * FROM jsonb_array_elements(r.value) LOOP
                out := out || pg_catalog.format('  "%s" -> "%s";', r.key, ids[k::int]);
            END LOOP;
        END LOOP;
        out := out || '}'::text;
        RETURN array_to_string(out, E'\n');
    ELSIF format = 'mermaid' THEN
        out := out || 'graph TD'::text;
        FOR cur IN 1..n LOOP
            out := out || pg_catalog.format('  e%s["%s<br/>%s"]', replace(ids[cur]::text, '-', ''),
                coalesce(types[cur], 'missing'), left(ids[cur]::text, 8));
        END LOOP;
        FOR r IN SELECT key, value FROM jsonb_each(kids) LOOP
            FOR k IN SELECT * FROM jsonb_array_elements(r.value) LOOP
                out := out || pg_catalog.format('  e%s --> e%s', replace(r.key, '-', ''),
                                                replace(ids[k::int]::text, '-', ''));
            END LOOP;
        END LOOP;
        RETURN array_to_string(out, E'\n');
    END IF;

    -- tree: depth-first from each root (depth 0 rows), children by position;
    -- an event reached again is referenced, not repeated.
    FOR cur IN REVERSE n..1 LOOP
        IF cur IN (SELECT t.ord FROM @extschema@.trace(trace_render.event_id) WITH ORDINALITY AS t(a, b, c, depth, e, ord) WHERE t.depth = 0) THEN
            stack := stack || cur;
            levels := levels || 0;
        END IF;
    END LOOP;
    WHILE cardinality(stack) > 0 LOOP
        cur := stack[cardinality(stack)];
        lvl := levels[cardinality(levels)];
        stack := stack[1:cardinality(stack) - 1];
        levels := levels[1:cardinality(levels) - 1];
        IF types[cur] IS NULL THEN
            label := pg_catalog.format('(missing) %s', left(ids[cur]::text, 8));
        ELSE
            label := pg_catalog.format('%s  %s  %s', types[cur],
                to_char(times[cur] AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"'), left(ids[cur]::text, 8));
        END IF;
        IF shown ? (ids[cur]::text) THEN
            out := out || (repeat('  ', lvl) || pg_catalog.format('^ %s (shown above)', left(ids[cur]::text, 8)));
            CONTINUE;
        END IF;
        shown := shown || jsonb_build_object(ids[cur]::text, true);
        out := out || (repeat('  ', lvl) || label);
        IF kids ? (ids[cur]::text) THEN
            FOR k IN SELECT value FROM jsonb_array_elements(kids->(ids[cur]::text)) WITH ORDINALITY AS e(value, o) ORDER BY o DESC LOOP
                stack := stack || k::int;
                levels := levels || (lvl + 1);
            END LOOP;
        END IF;
    END LOOP;
    RETURN array_to_string(out, E'\n');
END
$$;
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
CREATE INDEX event_log_session_idx ON @extschema@.event_log (session_key)
    WHERE session_key IS NOT NULL;

CREATE FUNCTION @extschema@.session_timeline(session_id text)
    RETURNS TABLE("position" bigint, event_id uuid, event_type text, occurred_at timestamptz, envelope jsonb)
    LANGUAGE sql STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.position, l.event_id, l.event_type, l.occurred_at, l.envelope
      FROM @extschema@.event_log l
     WHERE l.session_key = session_timeline.session_id
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
