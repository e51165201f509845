-- candystore install script, assembled from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION candystore" to load this file. \quit

-- Roles ---------------------------------------------------------------------
-- candystore_reader reads events and calls the query functions;
-- candystore_writer may also append.  Neither can change or remove events.
-- Roles belong to the cluster, so a second database reuses them, and DROP
-- EXTENSION leaves them in place.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_reader') THEN
        CREATE ROLE candystore_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_writer') THEN
        CREATE ROLE candystore_writer NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('candystore_writer', 'candystore_reader', 'MEMBER') THEN
        GRANT candystore_reader TO candystore_writer;
    END IF;
END
$roles$;

GRANT USAGE ON SCHEMA @extschema@ TO candystore_reader;

-- The envelope as SQL types ---------------------------------------------------
-- Conversions from jsonb check the envelope rules (check_envelope) and keep
-- fields the types have no column for in "extra", so nothing is dropped.  The
-- typed envelope is the canonical form: a legacy singular "correlation_id" is
-- merged into correlation_ids.  (get_event always returns the envelope
-- exactly as appended; only these conversions normalise.)

CREATE TYPE @extschema@.trigger_type AS ENUM
    ('manual', 'agent', 'scheduled', 'webhook', 'system', 'file_watch', 'hook');

CREATE TYPE @extschema@.event_source AS (
    host    text,
    type    @extschema@.trigger_type,
    app     text,
    meta    jsonb,
    extra   jsonb       -- any other fields of "source"
);

CREATE TYPE @extschema@.envelope AS (
    event_id        uuid,
    event_type      text,
    "timestamp"     timestamptz,
    version         text,
    source          @extschema@.event_source,
    correlation_ids uuid[],     -- parents, with a legacy correlation_id merged in
    agent_context   jsonb,
    trace_context   jsonb,
    payload         jsonb,
    extra           jsonb       -- any other top-level fields
);

CREATE FUNCTION @extschema@.check_envelope(envelope jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'candystore_check_envelope'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.check_envelope(jsonb) IS
    'Raises the error candystore.append would raise for this envelope; returns nothing when it is valid.';

CREATE FUNCTION @extschema@.event_source(source jsonb) RETURNS @extschema@.event_source
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ROW(source->>'host',
               (source->>'type')::@extschema@.trigger_type,
               source->>'app',
               source->'meta',
               nullif(source - ARRAY['host', 'type', 'app', 'meta'], '{}'::jsonb)
           )::@extschema@.event_source
$$;

CREATE FUNCTION @extschema@.event_source_to_jsonb(source @extschema@.event_source) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(source.extra, '{}'::jsonb)
        || jsonb_build_object('host', source.host, 'type', source.type)
        || CASE WHEN source.app IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('app', source.app) END
        || CASE WHEN source.meta IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('meta', source.meta) END
$$;

CREATE FUNCTION @extschema@.envelope(envelope jsonb) RETURNS @extschema@.envelope
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.check_envelope(envelope);
    RETURN ROW(
        (envelope->>'event_id')::uuid,
        envelope->>'event_type',
        (envelope->>'timestamp')::timestamptz,
        envelope->>'version',
        @extschema@.event_source(envelope->'source'),
        (SELECT coalesce(array_agg(id ORDER BY first_seen), '{}')
           FROM (SELECT id::uuid AS id, min(ord) AS first_seen
                   FROM (SELECT value AS id, ord
                           FROM jsonb_array_elements_text(coalesce(envelope->'correlation_ids', '[]'))
                                WITH ORDINALITY AS t(value, ord)
                         UNION ALL
                         SELECT envelope->>'correlation_id', 9223372036854775807
                          WHERE jsonb_typeof(envelope->'correlation_id') = 'string') AS ids
                  GROUP BY id::uuid) AS parents),
        envelope->'agent_context',
        envelope->'trace_context',
        envelope->'payload',
        nullif(envelope - ARRAY['event_id', 'event_type', 'timestamp', 'version', 'source',
                                'correlation_ids', 'correlation_id', 'agent_context',
                                'trace_context', 'payload'],
               '{}'::jsonb)
    )::@extschema@.envelope;
END
$$;

CREATE FUNCTION @extschema@.envelope_to_jsonb(envelope @extschema@.envelope) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(envelope.extra, '{}'::jsonb)
        || jsonb_build_object(
               'event_id', envelope.event_id,
               'event_type', envelope.event_type,
               'timestamp', envelope."timestamp",
               'version', envelope.version,
               'source', @extschema@.event_source_to_jsonb(envelope.source),
               'correlation_ids', coalesce(to_jsonb(envelope.correlation_ids), '[]'::jsonb),
               'payload', envelope.payload)
        || CASE WHEN envelope.agent_context IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('agent_context', envelope.agent_context) END
        || CASE WHEN envelope.trace_context IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('trace_context', envelope.trace_context) END
$$;

CREATE CAST (jsonb AS @extschema@.event_source) WITH FUNCTION @extschema@.event_source(jsonb);
CREATE CAST (@extschema@.event_source AS jsonb) WITH FUNCTION @extschema@.event_source_to_jsonb(@extschema@.event_source);
CREATE CAST (jsonb AS @extschema@.envelope) WITH FUNCTION @extschema@.envelope(jsonb);
CREATE CAST (@extschema@.envelope AS jsonb) WITH FUNCTION @extschema@.envelope_to_jsonb(@extschema@.envelope);

-- The store -------------------------------------------------------------------
-- event_log keeps each envelope verbatim (so get_event gives back exactly what
-- was appended, unknown fields included) beside the few columns that are
-- indexed.  Rows are only ever inserted, by append().

CREATE TABLE @extschema@.event_log (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid NOT NULL CONSTRAINT event_log_event_id_key UNIQUE,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,       -- the envelope's "timestamp"
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    routing_key     text,
    correlation_ids uuid[] NOT NULL,            -- parent event ids
    envelope        jsonb NOT NULL
);
COMMENT ON TABLE @extschema@.event_log IS
    'Every stored event, append-only; read it through candystore.events.';

CREATE INDEX event_log_event_type_idx ON @extschema@.event_log (event_type, position);
CREATE INDEX event_log_occurred_at_idx ON @extschema@.event_log (occurred_at);
-- No index on correlation_ids: an event's children are found through the
-- causation groups (40_trace.sql; descendants(id, 1)), which cost an append
-- less than a GIN entry would.

-- pg_dump keeps extension tables' definitions only; these keep the data too.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_log', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.event_log', 'position'), '');

CREATE FUNCTION @extschema@.forbid_change() RETURNS trigger
    AS 'MODULE_PATHNAME', 'candystore_forbid_change'
    LANGUAGE C;

CREATE TRIGGER event_log_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_log
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();

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
  FROM @extschema@.event_log;
COMMENT ON VIEW @extschema@.events IS
    'The stored events, one row each, in the envelope''s own terms.';

REVOKE ALL ON @extschema@.event_log FROM PUBLIC;
GRANT SELECT ON @extschema@.events TO candystore_reader;

-- Appending and reading ----------------------------------------------------------

CREATE FUNCTION @extschema@.append(envelope jsonb, routing_key text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'candystore_append'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.append(jsonb, text) IS
    'Checks and stores an envelope; returns its position.  Appending a stored event again with the same content returns its position and stores nothing.';
REVOKE ALL ON FUNCTION @extschema@.append(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.append(jsonb, text) TO candystore_writer;

CREATE FUNCTION @extschema@.get_event(event_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT envelope FROM @extschema@.events WHERE events.event_id = get_event.event_id
$$;
COMMENT ON FUNCTION @extschema@.get_event(uuid) IS
    'The envelope exactly as it was appended, or NULL.';
REVOKE ALL ON FUNCTION @extschema@.get_event(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.get_event(uuid) TO candystore_reader;

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

-- JSON Schema ---------------------------------------------------------------
-- A C engine for drafts 4, 6, 7, 2019-09 and 2020-12 (chosen by $schema,
-- 2020-12 when absent).  Absolute $refs resolve against
-- candystore.schema_resources, never the network; the functions read that
-- table, hence STABLE.

CREATE TABLE @extschema@.schema_resources (
    uri      text PRIMARY KEY CHECK (uri !~ '#.' AND uri ~ '^[A-Za-z][A-Za-z0-9+.-]*:'),
    document jsonb NOT NULL CHECK (jsonb_typeof(document) IN ('object', 'boolean')),
    builtin  boolean NOT NULL DEFAULT false,
    added_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.schema_resources IS
    'Documents that absolute JSON Schema $refs resolve to, by URI (the draft meta-schemas are built in).';
GRANT SELECT ON @extschema@.schema_resources TO candystore_reader;

CREATE FUNCTION @extschema@.jsonb_matches_schema(schema jsonb, instance jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'jsonb_matches_schema'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jsonb_matches_schema(jsonb, jsonb) IS
    'Whether instance is valid against the JSON Schema schema.';

CREATE FUNCTION @extschema@.jsonschema_validation_errors(schema jsonb, instance jsonb)
    RETURNS TABLE(instance_path text, schema_path text, keyword text, message text)
    AS 'MODULE_PATHNAME', 'jsonschema_validation_errors'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION @extschema@.jsonschema_validation_errors(jsonb, jsonb) IS
    'One row per failed keyword (JSON Pointers into the instance and the schema); no rows when valid.';

CREATE FUNCTION @extschema@.jsonschema_is_valid(schema jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'jsonschema_is_valid'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jsonschema_is_valid(jsonb) IS
    'Whether schema is valid against the meta-schema of its draft.';

CREATE FUNCTION @extschema@.jsonschema_reset_cache() RETURNS void
    AS 'MODULE_PATHNAME', 'jsonschema_reset_cache'
    LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jsonschema_reset_cache() IS
    'Drops the compiled schemas cached by this session.';

-- Resources are add-only: a compiled schema cached by any session stays
-- right, because what a URI names never changes.
CREATE FUNCTION @extschema@.add_schema_resource(uri text, document jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing jsonb;
BEGIN
    uri := pg_catalog.regexp_replace(uri, '#$', '');
    SELECT r.document INTO existing FROM @extschema@.schema_resources r WHERE r.uri = add_schema_resource.uri;
    IF FOUND THEN
        IF existing = document THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'schema resource "%" is already registered with different content', uri
            USING ERRCODE = 'unique_violation',
                  HINT = 'A URI names one document for good; register the new document under a new URI.';
    END IF;
    IF uri !~ '^[A-Za-z][A-Za-z0-9+.-]*:' OR uri ~ '#' THEN
        RAISE EXCEPTION 'schema resource URI "%" must be absolute and without a fragment', uri
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.jsonb_typeof(document) NOT IN ('object', 'boolean') THEN
        RAISE EXCEPTION 'a schema resource must be a JSON object or boolean, not %', pg_catalog.jsonb_typeof(document)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.schema_resources (uri, document) VALUES (uri, document);
END
$$;
COMMENT ON FUNCTION @extschema@.add_schema_resource(text, jsonb) IS
    'Makes document the target of $refs to uri (add-only).';
REVOKE ALL ON FUNCTION @extschema@.add_schema_resource(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.add_schema_resource(text, jsonb) TO candystore_writer;
-- Generated by scripts/gen-metaschemas.py: the built-in JSON Schema meta-schemas.
INSERT INTO @extschema@.schema_resources (uri, document, builtin) VALUES
    ('http://json-schema.org/draft-04/schema', $meta${"$schema":"http://json-schema.org/draft-04/schema#","default":{},"definitions":{"positiveInteger":{"minimum":0,"type":"integer"},"positiveIntegerDefault0":{"allOf":[{"$ref":"#/definitions/positiveInteger"},{"default":0}]},"schemaArray":{"items":{"$ref":"#"},"minItems":1,"type":"array"},"simpleTypes":{"enum":["array","boolean","integer","null","number","object","string"]},"stringArray":{"items":{"type":"string"},"minItems":1,"type":"array","uniqueItems":true}},"dependencies":{"exclusiveMaximum":["maximum"],"exclusiveMinimum":["minimum"]},"description":"Core schema meta-schema","id":"http://json-schema.org/draft-04/schema#","properties":{"$schema":{"format":"uri","type":"string"},"additionalItems":{"anyOf":[{"type":"boolean"},{"$ref":"#"}],"default":{}},"additionalProperties":{"anyOf":[{"type":"boolean"},{"$ref":"#"}],"default":{}},"allOf":{"$ref":"#/definitions/schemaArray"},"anyOf":{"$ref":"#/definitions/schemaArray"},"default":{},"definitions":{"additionalProperties":{"$ref":"#"},"default":{},"type":"object"},"dependencies":{"additionalProperties":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/stringArray"}]},"type":"object"},"description":{"type":"string"},"enum":{"type":"array"},"exclusiveMaximum":{"default":false,"type":"boolean"},"exclusiveMinimum":{"default":false,"type":"boolean"},"format":{"type":"string"},"id":{"format":"uri","type":"string"},"items":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/schemaArray"}],"default":{}},"maxItems":{"$ref":"#/definitions/positiveInteger"},"maxLength":{"$ref":"#/definitions/positiveInteger"},"maxProperties":{"$ref":"#/definitions/positiveInteger"},"maximum":{"type":"number"},"minItems":{"$ref":"#/definitions/positiveIntegerDefault0"},"minLength":{"$ref":"#/definitions/positiveIntegerDefault0"},"minProperties":{"$ref":"#/definitions/positiveIntegerDefault0"},"minimum":{"type":"number"},"multipleOf":{"exclusiveMinimum":true,"minimum":0,"type":"number"},"not":{"$ref":"#"},"oneOf":{"$ref":"#/definitions/schemaArray"},"pattern":{"format":"regex","type":"string"},"patternProperties":{"additionalProperties":{"$ref":"#"},"default":{},"type":"object"},"properties":{"additionalProperties":{"$ref":"#"},"default":{},"type":"object"},"required":{"$ref":"#/definitions/stringArray"},"title":{"type":"string"},"type":{"anyOf":[{"$ref":"#/definitions/simpleTypes"},{"items":{"$ref":"#/definitions/simpleTypes"},"minItems":1,"type":"array","uniqueItems":true}]},"uniqueItems":{"default":false,"type":"boolean"}},"type":"object"}$meta$, true),
    ('http://json-schema.org/draft-06/schema', $meta${"$id":"http://json-schema.org/draft-06/schema#","$schema":"http://json-schema.org/draft-06/schema#","default":{},"definitions":{"nonNegativeInteger":{"minimum":0,"type":"integer"},"nonNegativeIntegerDefault0":{"allOf":[{"$ref":"#/definitions/nonNegativeInteger"},{"default":0}]},"schemaArray":{"items":{"$ref":"#"},"minItems":1,"type":"array"},"simpleTypes":{"enum":["array","boolean","integer","null","number","object","string"]},"stringArray":{"default":[],"items":{"type":"string"},"type":"array","uniqueItems":true}},"properties":{"$id":{"format":"uri-reference","type":"string"},"$ref":{"format":"uri-reference","type":"string"},"$schema":{"format":"uri","type":"string"},"additionalItems":{"$ref":"#"},"additionalProperties":{"$ref":"#"},"allOf":{"$ref":"#/definitions/schemaArray"},"anyOf":{"$ref":"#/definitions/schemaArray"},"const":{},"contains":{"$ref":"#"},"default":{},"definitions":{"additionalProperties":{"$ref":"#"},"default":{},"type":"object"},"dependencies":{"additionalProperties":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/stringArray"}]},"type":"object"},"description":{"type":"string"},"enum":{"type":"array"},"examples":{"items":{},"type":"array"},"exclusiveMaximum":{"type":"number"},"exclusiveMinimum":{"type":"number"},"format":{"type":"string"},"items":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/schemaArray"}],"default":{}},"maxItems":{"$ref":"#/definitions/nonNegativeInteger"},"maxLength":{"$ref":"#/definitions/nonNegativeInteger"},"maxProperties":{"$ref":"#/definitions/nonNegativeInteger"},"maximum":{"type":"number"},"minItems":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"minLength":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"minProperties":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"minimum":{"type":"number"},"multipleOf":{"exclusiveMinimum":0,"type":"number"},"not":{"$ref":"#"},"oneOf":{"$ref":"#/definitions/schemaArray"},"pattern":{"format":"regex","type":"string"},"patternProperties":{"additionalProperties":{"$ref":"#"},"default":{},"propertyNames":{"format":"regex"},"type":"object"},"properties":{"additionalProperties":{"$ref":"#"},"default":{},"type":"object"},"propertyNames":{"$ref":"#"},"required":{"$ref":"#/definitions/stringArray"},"title":{"type":"string"},"type":{"anyOf":[{"$ref":"#/definitions/simpleTypes"},{"items":{"$ref":"#/definitions/simpleTypes"},"minItems":1,"type":"array","uniqueItems":true}]},"uniqueItems":{"default":false,"type":"boolean"}},"title":"Core schema meta-schema","type":["object","boolean"]}$meta$, true),
    ('http://json-schema.org/draft-07/schema', $meta${"$id":"http://json-schema.org/draft-07/schema#","$schema":"http://json-schema.org/draft-07/schema#","default":true,"definitions":{"nonNegativeInteger":{"minimum":0,"type":"integer"},"nonNegativeIntegerDefault0":{"allOf":[{"$ref":"#/definitions/nonNegativeInteger"},{"default":0}]},"schemaArray":{"items":{"$ref":"#"},"minItems":1,"type":"array"},"simpleTypes":{"enum":["array","boolean","integer","null","number","object","string"]},"stringArray":{"default":[],"items":{"type":"string"},"type":"array","uniqueItems":true}},"properties":{"$comment":{"type":"string"},"$id":{"format":"uri-reference","type":"string"},"$ref":{"format":"uri-reference","type":"string"},"$schema":{"format":"uri","type":"string"},"additionalItems":{"$ref":"#"},"additionalProperties":{"$ref":"#"},"allOf":{"$ref":"#/definitions/schemaArray"},"anyOf":{"$ref":"#/definitions/schemaArray"},"const":true,"contains":{"$ref":"#"},"contentEncoding":{"type":"string"},"contentMediaType":{"type":"string"},"default":true,"definitions":{"additionalProperties":{"$ref":"#"},"default":{},"type":"object"},"dependencies":{"additionalProperties":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/stringArray"}]},"type":"object"},"description":{"type":"string"},"else":{"$ref":"#"},"enum":{"items":true,"type":"array"},"examples":{"items":true,"type":"array"},"exclusiveMaximum":{"type":"number"},"exclusiveMinimum":{"type":"number"},"format":{"type":"string"},"if":{"$ref":"#"},"items":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/schemaArray"}],"default":true},"maxItems":{"$ref":"#/definitions/nonNegativeInteger"},"maxLength":{"$ref":"#/definitions/nonNegativeInteger"},"maxProperties":{"$ref":"#/definitions/nonNegativeInteger"},"maximum":{"type":"number"},"minItems":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"minLength":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"minProperties":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"minimum":{"type":"number"},"multipleOf":{"exclusiveMinimum":0,"type":"number"},"not":{"$ref":"#"},"oneOf":{"$ref":"#/definitions/schemaArray"},"pattern":{"format":"regex","type":"string"},"patternProperties":{"additionalProperties":{"$ref":"#"},"default":{},"propertyNames":{"format":"regex"},"type":"object"},"properties":{"additionalProperties":{"$ref":"#"},"default":{},"type":"object"},"propertyNames":{"$ref":"#"},"readOnly":{"default":false,"type":"boolean"},"required":{"$ref":"#/definitions/stringArray"},"then":{"$ref":"#"},"title":{"type":"string"},"type":{"anyOf":[{"$ref":"#/definitions/simpleTypes"},{"items":{"$ref":"#/definitions/simpleTypes"},"minItems":1,"type":"array","uniqueItems":true}]},"uniqueItems":{"default":false,"type":"boolean"}},"title":"Core schema meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/meta/applicator', $meta${"$defs":{"schemaArray":{"items":{"$recursiveRef":"#"},"minItems":1,"type":"array"}},"$id":"https://json-schema.org/draft/2019-09/meta/applicator","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/applicator":true},"properties":{"additionalItems":{"$recursiveRef":"#"},"additionalProperties":{"$recursiveRef":"#"},"allOf":{"$ref":"#/$defs/schemaArray"},"anyOf":{"$ref":"#/$defs/schemaArray"},"contains":{"$recursiveRef":"#"},"dependentSchemas":{"additionalProperties":{"$recursiveRef":"#"},"type":"object"},"else":{"$recursiveRef":"#"},"if":{"$recursiveRef":"#"},"items":{"anyOf":[{"$recursiveRef":"#"},{"$ref":"#/$defs/schemaArray"}]},"not":{"$recursiveRef":"#"},"oneOf":{"$ref":"#/$defs/schemaArray"},"patternProperties":{"additionalProperties":{"$recursiveRef":"#"},"default":{},"propertyNames":{"format":"regex"},"type":"object"},"properties":{"additionalProperties":{"$recursiveRef":"#"},"default":{},"type":"object"},"propertyNames":{"$recursiveRef":"#"},"then":{"$recursiveRef":"#"},"unevaluatedItems":{"$recursiveRef":"#"},"unevaluatedProperties":{"$recursiveRef":"#"}},"title":"Applicator vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/meta/content', $meta${"$id":"https://json-schema.org/draft/2019-09/meta/content","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/content":true},"properties":{"contentEncoding":{"type":"string"},"contentMediaType":{"type":"string"},"contentSchema":{"$recursiveRef":"#"}},"title":"Content vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/meta/core', $meta${"$id":"https://json-schema.org/draft/2019-09/meta/core","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/core":true},"properties":{"$anchor":{"pattern":"^[A-Za-z][-A-Za-z0-9.:_]*$","type":"string"},"$comment":{"type":"string"},"$defs":{"additionalProperties":{"$recursiveRef":"#"},"default":{},"type":"object"},"$id":{"$comment":"Non-empty fragments not allowed.","format":"uri-reference","pattern":"^[^#]*#?$","type":"string"},"$recursiveAnchor":{"default":false,"type":"boolean"},"$recursiveRef":{"format":"uri-reference","type":"string"},"$ref":{"format":"uri-reference","type":"string"},"$schema":{"format":"uri","type":"string"},"$vocabulary":{"additionalProperties":{"type":"boolean"},"propertyNames":{"format":"uri","type":"string"},"type":"object"}},"title":"Core vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/meta/format', $meta${"$id":"https://json-schema.org/draft/2019-09/meta/format","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/format":true},"properties":{"format":{"type":"string"}},"title":"Format vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/meta/hyper-schema', $meta${"$id":"https://json-schema.org/draft/2019-09/meta/hyper-schema","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/hyper-schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/hyper-schema":true},"links":[{"href":"{+%24id}","rel":"self"}],"properties":{"base":{"format":"uri-template","type":"string"},"links":{"items":{"$ref":"https://json-schema.org/draft/2019-09/links"},"type":"array"}},"title":"JSON Hyper-Schema Vocabulary Schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/meta/meta-data', $meta${"$id":"https://json-schema.org/draft/2019-09/meta/meta-data","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/meta-data":true},"properties":{"default":true,"deprecated":{"default":false,"type":"boolean"},"description":{"type":"string"},"examples":{"items":true,"type":"array"},"readOnly":{"default":false,"type":"boolean"},"title":{"type":"string"},"writeOnly":{"default":false,"type":"boolean"}},"title":"Meta-data vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/meta/validation', $meta${"$defs":{"nonNegativeInteger":{"minimum":0,"type":"integer"},"nonNegativeIntegerDefault0":{"$ref":"#/$defs/nonNegativeInteger","default":0},"simpleTypes":{"enum":["array","boolean","integer","null","number","object","string"]},"stringArray":{"default":[],"items":{"type":"string"},"type":"array","uniqueItems":true}},"$id":"https://json-schema.org/draft/2019-09/meta/validation","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/validation":true},"properties":{"const":true,"dependentRequired":{"additionalProperties":{"$ref":"#/$defs/stringArray"},"type":"object"},"enum":{"items":true,"type":"array"},"exclusiveMaximum":{"type":"number"},"exclusiveMinimum":{"type":"number"},"maxContains":{"$ref":"#/$defs/nonNegativeInteger"},"maxItems":{"$ref":"#/$defs/nonNegativeInteger"},"maxLength":{"$ref":"#/$defs/nonNegativeInteger"},"maxProperties":{"$ref":"#/$defs/nonNegativeInteger"},"maximum":{"type":"number"},"minContains":{"$ref":"#/$defs/nonNegativeInteger","default":1},"minItems":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"minLength":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"minProperties":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"minimum":{"type":"number"},"multipleOf":{"exclusiveMinimum":0,"type":"number"},"pattern":{"format":"regex","type":"string"},"required":{"$ref":"#/$defs/stringArray"},"type":{"anyOf":[{"$ref":"#/$defs/simpleTypes"},{"items":{"$ref":"#/$defs/simpleTypes"},"minItems":1,"type":"array","uniqueItems":true}]},"uniqueItems":{"default":false,"type":"boolean"}},"title":"Validation vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2019-09/schema', $meta${"$id":"https://json-schema.org/draft/2019-09/schema","$recursiveAnchor":true,"$schema":"https://json-schema.org/draft/2019-09/schema","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/applicator":true,"https://json-schema.org/draft/2019-09/vocab/content":true,"https://json-schema.org/draft/2019-09/vocab/core":true,"https://json-schema.org/draft/2019-09/vocab/format":false,"https://json-schema.org/draft/2019-09/vocab/meta-data":true,"https://json-schema.org/draft/2019-09/vocab/validation":true},"allOf":[{"$ref":"meta/core"},{"$ref":"meta/applicator"},{"$ref":"meta/validation"},{"$ref":"meta/meta-data"},{"$ref":"meta/format"},{"$ref":"meta/content"}],"properties":{"definitions":{"$comment":"While no longer an official keyword as it is replaced by $defs, this keyword is retained in the meta-schema to prevent incompatible extensions as it remains in common use.","additionalProperties":{"$recursiveRef":"#"},"default":{},"type":"object"},"dependencies":{"$comment":"\"dependencies\" is no longer a keyword, but schema authors should avoid redefining it to facilitate a smooth transition to \"dependentSchemas\" and \"dependentRequired\"","additionalProperties":{"anyOf":[{"$recursiveRef":"#"},{"$ref":"meta/validation#/$defs/stringArray"}]},"type":"object"}},"title":"Core and Validation specifications meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/meta/applicator', $meta${"$defs":{"schemaArray":{"items":{"$dynamicRef":"#meta"},"minItems":1,"type":"array"}},"$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/meta/applicator","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/applicator":true},"properties":{"additionalProperties":{"$dynamicRef":"#meta"},"allOf":{"$ref":"#/$defs/schemaArray"},"anyOf":{"$ref":"#/$defs/schemaArray"},"contains":{"$dynamicRef":"#meta"},"dependentSchemas":{"additionalProperties":{"$dynamicRef":"#meta"},"default":{},"type":"object"},"else":{"$dynamicRef":"#meta"},"if":{"$dynamicRef":"#meta"},"items":{"$dynamicRef":"#meta"},"not":{"$dynamicRef":"#meta"},"oneOf":{"$ref":"#/$defs/schemaArray"},"patternProperties":{"additionalProperties":{"$dynamicRef":"#meta"},"default":{},"propertyNames":{"format":"regex"},"type":"object"},"prefixItems":{"$ref":"#/$defs/schemaArray"},"properties":{"additionalProperties":{"$dynamicRef":"#meta"},"default":{},"type":"object"},"propertyNames":{"$dynamicRef":"#meta"},"then":{"$dynamicRef":"#meta"}},"title":"Applicator vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/meta/content', $meta${"$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/meta/content","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/content":true},"properties":{"contentEncoding":{"type":"string"},"contentMediaType":{"type":"string"},"contentSchema":{"$dynamicRef":"#meta"}},"title":"Content vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/meta/core', $meta${"$defs":{"anchorString":{"pattern":"^[A-Za-z_][-A-Za-z0-9._]*$","type":"string"},"uriReferenceString":{"format":"uri-reference","type":"string"},"uriString":{"format":"uri","type":"string"}},"$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/meta/core","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/core":true},"properties":{"$anchor":{"$ref":"#/$defs/anchorString"},"$comment":{"type":"string"},"$defs":{"additionalProperties":{"$dynamicRef":"#meta"},"type":"object"},"$dynamicAnchor":{"$ref":"#/$defs/anchorString"},"$dynamicRef":{"$ref":"#/$defs/uriReferenceString"},"$id":{"$comment":"Non-empty fragments not allowed.","$ref":"#/$defs/uriReferenceString","pattern":"^[^#]*#?$"},"$ref":{"$ref":"#/$defs/uriReferenceString"},"$schema":{"$ref":"#/$defs/uriString"},"$vocabulary":{"additionalProperties":{"type":"boolean"},"propertyNames":{"$ref":"#/$defs/uriString"},"type":"object"}},"title":"Core vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/meta/format-annotation', $meta${"$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/meta/format-annotation","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/format-annotation":true},"properties":{"format":{"type":"string"}},"title":"Format vocabulary meta-schema for annotation results","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/meta/meta-data', $meta${"$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/meta/meta-data","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/meta-data":true},"properties":{"default":true,"deprecated":{"default":false,"type":"boolean"},"description":{"type":"string"},"examples":{"items":true,"type":"array"},"readOnly":{"default":false,"type":"boolean"},"title":{"type":"string"},"writeOnly":{"default":false,"type":"boolean"}},"title":"Meta-data vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/meta/unevaluated', $meta${"$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/meta/unevaluated","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/unevaluated":true},"properties":{"unevaluatedItems":{"$dynamicRef":"#meta"},"unevaluatedProperties":{"$dynamicRef":"#meta"}},"title":"Unevaluated applicator vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/meta/validation', $meta${"$defs":{"nonNegativeInteger":{"minimum":0,"type":"integer"},"nonNegativeIntegerDefault0":{"$ref":"#/$defs/nonNegativeInteger","default":0},"simpleTypes":{"enum":["array","boolean","integer","null","number","object","string"]},"stringArray":{"default":[],"items":{"type":"string"},"type":"array","uniqueItems":true}},"$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/meta/validation","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/validation":true},"properties":{"const":true,"dependentRequired":{"additionalProperties":{"$ref":"#/$defs/stringArray"},"type":"object"},"enum":{"items":true,"type":"array"},"exclusiveMaximum":{"type":"number"},"exclusiveMinimum":{"type":"number"},"maxContains":{"$ref":"#/$defs/nonNegativeInteger"},"maxItems":{"$ref":"#/$defs/nonNegativeInteger"},"maxLength":{"$ref":"#/$defs/nonNegativeInteger"},"maxProperties":{"$ref":"#/$defs/nonNegativeInteger"},"maximum":{"type":"number"},"minContains":{"$ref":"#/$defs/nonNegativeInteger","default":1},"minItems":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"minLength":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"minProperties":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"minimum":{"type":"number"},"multipleOf":{"exclusiveMinimum":0,"type":"number"},"pattern":{"format":"regex","type":"string"},"required":{"$ref":"#/$defs/stringArray"},"type":{"anyOf":[{"$ref":"#/$defs/simpleTypes"},{"items":{"$ref":"#/$defs/simpleTypes"},"minItems":1,"type":"array","uniqueItems":true}]},"uniqueItems":{"default":false,"type":"boolean"}},"title":"Validation vocabulary meta-schema","type":["object","boolean"]}$meta$, true),
    ('https://json-schema.org/draft/2020-12/schema', $meta${"$comment":"This meta-schema also defines keywords that have appeared in previous drafts in order to prevent incompatible extensions as they remain in common use.","$dynamicAnchor":"meta","$id":"https://json-schema.org/draft/2020-12/schema","$schema":"https://json-schema.org/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/applicator":true,"https://json-schema.org/draft/2020-12/vocab/content":true,"https://json-schema.org/draft/2020-12/vocab/core":true,"https://json-schema.org/draft/2020-12/vocab/format-annotation":true,"https://json-schema.org/draft/2020-12/vocab/meta-data":true,"https://json-schema.org/draft/2020-12/vocab/unevaluated":true,"https://json-schema.org/draft/2020-12/vocab/validation":true},"allOf":[{"$ref":"meta/core"},{"$ref":"meta/applicator"},{"$ref":"meta/unevaluated"},{"$ref":"meta/validation"},{"$ref":"meta/meta-data"},{"$ref":"meta/format-annotation"},{"$ref":"meta/content"}],"properties":{"$recursiveAnchor":{"$comment":"\"$recursiveAnchor\" has been replaced by \"$dynamicAnchor\".","$ref":"meta/core#/$defs/anchorString","deprecated":true},"$recursiveRef":{"$comment":"\"$recursiveRef\" has been replaced by \"$dynamicRef\".","$ref":"meta/core#/$defs/uriReferenceString","deprecated":true},"definitions":{"$comment":"\"definitions\" has been replaced by \"$defs\".","additionalProperties":{"$dynamicRef":"#meta"},"default":{},"deprecated":true,"type":"object"},"dependencies":{"$comment":"\"dependencies\" has been split and replaced by \"dependentSchemas\" and \"dependentRequired\" in order to serve their differing semantics.","additionalProperties":{"anyOf":[{"$dynamicRef":"#meta"},{"$ref":"meta/validation#/$defs/stringArray"}]},"default":{},"deprecated":true,"type":"object"}},"title":"Core and Validation specifications meta-schema","type":["object","boolean"]}$meta$, true);

-- The schema registry -------------------------------------------------------
-- One row per version of an event type's payload schema.  append() validates
-- the payload of each event against the latest version of its type
-- (candystore.validation, candystore.accept_unknown_event_types).  Versions
-- are add-only: a row is never changed or removed, so a schema's $id names
-- one document for good and compiled schemas cached by any session stay
-- right.  Registered schemas are reachable by their $id from $refs.

CREATE TABLE @extschema@.schemas (
    event_type        text NOT NULL
                      CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND length(event_type) <= 255),
    version           integer NOT NULL CHECK (version > 0),
    schema            jsonb NOT NULL CHECK (jsonb_typeof(schema) = 'object'),
    schema_id         text UNIQUE CHECK (schema_id !~ '#' AND schema_id ~ '^[A-Za-z][A-Za-z0-9+.-]*:'),
    registered_at     timestamptz NOT NULL DEFAULT now(),
    registered_by     name NOT NULL DEFAULT current_user,
    incompatibilities text[],           -- reasons overridden with force => true
    builtin           boolean NOT NULL DEFAULT false,  -- shipped in schemas/, registered by CREATE EXTENSION
    PRIMARY KEY (event_type, version)
);
COMMENT ON TABLE @extschema@.schemas IS
    'Payload JSON Schemas by event type and version; append() validates payloads against the latest version.';
GRANT SELECT ON @extschema@.schemas TO candystore_reader;
-- Shipped versions come back with CREATE EXTENSION; registered ones are dumped.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.schemas', 'WHERE NOT builtin');

CREATE FUNCTION @extschema@.schemas_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'registered schemas cannot be changed or removed'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Register a new version with candystore.register_schema().';
END
$$;
CREATE TRIGGER schemas_are_add_only
    BEFORE UPDATE OR DELETE ON @extschema@.schemas
    FOR EACH ROW EXECUTE FUNCTION @extschema@.schemas_refuse_change();
CREATE TRIGGER schemas_are_not_truncated
    BEFORE TRUNCATE ON @extschema@.schemas
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_refuse_change();

-- Every session drops its cached latest versions when the table changes.
CREATE FUNCTION @extschema@.schemas_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'candystore_schemas_changed'
    LANGUAGE C;
CREATE TRIGGER schemas_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.schemas
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();

-- RFC 6901: "~" and "/" escaped in a JSON Pointer token.
CREATE FUNCTION @extschema@.json_pointer_token(key text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT replace(replace(key, '~', '~0'), '/', '~1') $$;

-- The JSON types a schema admits ("integer" is within "number"); NULL: any.
CREATE FUNCTION @extschema@.schema_types(s jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE jsonb_typeof(s->'type')
               WHEN 'string' THEN ARRAY[s->>'type']
               WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(s->'type'))
           END
$$;

-- Why a payload valid under old may be refused by new: one row per reason,
-- "<JSON Pointer into the schema>: <reason>".  Follows properties and items
-- (not $ref): the changes the seeds' versioning rules call breaking.
CREATE FUNCTION @extschema@.schema_incompatibilities(old jsonb, new jsonb, at text DEFAULT '')
    RETURNS SETOF text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    old_types text[];
    new_types text[];
    t text;
    v jsonb;
BEGIN
    IF jsonb_typeof(old) = 'boolean' OR jsonb_typeof(new) = 'boolean' THEN
        IF new = 'false' AND old <> 'false' THEN
            RETURN NEXT format('%s: the schema became false (nothing is valid)', coalesce(nullif(at, ''), '/'));
        ELSIF jsonb_typeof(new) = 'object' AND old = 'true' AND new - ARRAY['$schema', '$id', 'title', 'description', '$comment', 'examples', 'default'] <> '{}' THEN
            RETURN NEXT format('%s: constraints were added to a schema that allowed anything', coalesce(nullif(at, ''), '/'));
        END IF;
        RETURN;
    END IF;

    -- a required property the old version did not require
    FOR k IN SELECT jsonb_array_elements_text(coalesce(new->'required', '[]'))
             EXCEPT SELECT jsonb_array_elements_text(coalesce(old->'required', '[]'))
             ORDER BY 1 LOOP
        RETURN NEXT format('%s/required: new required property "%s"', at, k);
    END LOOP;

    -- a property the old version described and the new one does not
    FOR k IN SELECT jsonb_object_keys(coalesce(old->'properties', '{}'))
             EXCEPT SELECT jsonb_object_keys(coalesce(new->'properties', '{}'))
             ORDER BY 1 LOOP
        RETURN NEXT format('%s/properties/%s: property "%s" was removed', at, @extschema@.json_pointer_token(k), k);
    END LOOP;

    -- a narrowed type: a JSON type the old version admitted is gone
    old_types := @extschema@.schema_types(old);
    new_types := @extschema@.schema_types(new);
    IF new_types IS NOT NULL THEN
        FOR t IN SELECT unnest(coalesce(old_types, ARRAY['array', 'boolean', 'null', 'number', 'object', 'string']))
                 EXCEPT SELECT unnest(new_types || CASE WHEN 'number' = ANY (new_types) THEN ARRAY['integer'] ELSE '{}' END)
                 ORDER BY 1 LOOP
            RETURN NEXT format('%s/type: type "%s" is no longer allowed', at, t);
        END LOOP;
    END IF;

    -- enum and const: values the old version allowed are gone
    IF new ? 'enum' THEN
        IF NOT old ? 'enum' AND NOT old ? 'const' THEN
            RETURN NEXT format('%s/enum: an enum was added', at);
        ELSE
            FOR v IN SELECT e FROM jsonb_array_elements(coalesce(old->'enum', jsonb_build_array(old->'const'))) e
                     WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(new->'enum') n WHERE n = e) LOOP
                RETURN NEXT format('%s/enum: value %s is no longer allowed', at, v);
            END LOOP;
        END IF;
    END IF;
    IF new ? 'const' AND (NOT old ? 'const' OR old->'const' <> new->'const') THEN
        RETURN NEXT format('%s/const: the value is now fixed to %s', at, new->'const');
    END IF;

    -- bounds: a maximum lowered or a minimum raised (or newly set)
    FOR k IN SELECT unnest(ARRAY['maxLength', 'maxItems', 'maxProperties', 'maximum', 'exclusiveMaximum']) LOOP
        IF jsonb_typeof(new->k) = 'number'
           AND (jsonb_typeof(old->k) IS DISTINCT FROM 'number' OR (new->>k)::numeric < (old->>k)::numeric) THEN
            RETURN NEXT format('%s/%s: lowered to %s (was %s)', at, k, new->k, coalesce(old->>k, 'unbounded'));
        END IF;
    END LOOP;
    FOR k IN SELECT unnest(ARRAY['minLength', 'minItems', 'minProperties', 'minimum', 'exclusiveMinimum']) LOOP
        IF jsonb_typeof(new->k) = 'number'
           AND (jsonb_typeof(old->k) IS DISTINCT FROM 'number' OR (new->>k)::numeric > (old->>k)::numeric) THEN
            RETURN NEXT format('%s/%s: raised to %s (was %s)', at, k, new->k, coalesce(old->>k, 'unbounded'));
        END IF;
    END LOOP;
    IF new ? 'pattern' AND old->'pattern' IS DISTINCT FROM new->'pattern' THEN
        RETURN NEXT format('%s/pattern: the pattern changed to %s', at, new->'pattern');
    END IF;
    IF new ? 'format' AND old->'format' IS DISTINCT FROM new->'format' THEN
        RETURN NEXT format('%s/format: the format changed to %s', at, new->'format');
    END IF;

    -- properties not listed: allowed before, refused now
    FOR k IN SELECT unnest(ARRAY['additionalProperties', 'unevaluatedProperties']) LOOP
        IF new->k = 'false' AND old->k IS DISTINCT FROM 'false' THEN
            RETURN NEXT format('%s/%s: became false (unlisted properties are refused)', at, k);
        END IF;
    END LOOP;

    -- the same rules, in the properties both versions describe, and items
    FOR k IN SELECT jsonb_object_keys(coalesce(old->'properties', '{}'))
             INTERSECT SELECT jsonb_object_keys(coalesce(new->'properties', '{}'))
             ORDER BY 1 LOOP
        RETURN QUERY SELECT * FROM @extschema@.schema_incompatibilities(
            old->'properties'->k, new->'properties'->k,
            at || '/properties/' || @extschema@.json_pointer_token(k));
    END LOOP;
    -- a property only the new version describes met the old
    -- additionalProperties schema, when there was one (with none, adding an
    -- optional property is compatible, as the seeds' versioning rules say)
    IF jsonb_typeof(old->'additionalProperties') = 'object' THEN
        FOR k IN SELECT jsonb_object_keys(coalesce(new->'properties', '{}'))
                 EXCEPT SELECT jsonb_object_keys(coalesce(old->'properties', '{}'))
                 ORDER BY 1 LOOP
            RETURN QUERY SELECT * FROM @extschema@.schema_incompatibilities(
                old->'additionalProperties', new->'properties'->k,
                at || '/properties/' || @extschema@.json_pointer_token(k));
        END LOOP;
    END IF;
    IF jsonb_typeof(new->'items') IN ('object', 'boolean') THEN
        RETURN QUERY SELECT * FROM @extschema@.schema_incompatibilities(
            CASE WHEN jsonb_typeof(old->'items') IN ('object', 'boolean') THEN old->'items' ELSE 'true' END,
            new->'items', at || '/items');
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.schema_incompatibilities(jsonb, jsonb, text) IS
    'Why a payload valid under the old schema may be invalid under the new one: "<schema pointer>: <reason>" per row.';
GRANT EXECUTE ON FUNCTION @extschema@.schema_incompatibilities(jsonb, jsonb, text) TO candystore_reader;

-- The registration itself; builtin marks the versions shipped in schemas/.
CREATE FUNCTION @extschema@.register_schema_version(event_type text, schema jsonb, force boolean, builtin boolean)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    latest record;
    has_latest boolean;
    sid text;
    reasons text[];
    problems text;
    compile_error text;
BEGIN
    IF event_type IS NULL OR schema IS NULL OR force IS NULL THEN
        RAISE EXCEPTION 'register_schema: event_type, schema and force must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF event_type !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' OR length(event_type) > 255 THEN
        RAISE EXCEPTION 'invalid event type "%"', event_type
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'An event type is two or more dot-separated segments of a-z, 0-9 and _, each starting with a letter; at most 255 characters.',
                  HINT = 'For example "fireflies.transcript.ready".';
    END IF;
    IF jsonb_typeof(schema) <> 'object' THEN
        RAISE EXCEPTION 'the schema for "%" must be a JSON object, not %', event_type, jsonb_typeof(schema)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- valid against the meta-schema of its draft, and compilable
    BEGIN
        IF NOT @extschema@.jsonschema_is_valid(schema) THEN
            SELECT string_agg(format('%s: %s', coalesce(nullif(e.instance_path, ''), '/'), e.message), E'\n')
              INTO problems
              FROM (SELECT * FROM @extschema@.jsonschema_validation_errors(
                        jsonb_build_object('$ref', coalesce(schema->>'$schema', 'https://json-schema.org/draft/2020-12/schema')),
                        schema) LIMIT 5) e;
        ELSE
            PERFORM @extschema@.jsonb_matches_schema(schema, '{}');
        END IF;
    EXCEPTION WHEN data_exception THEN
        GET STACKED DIAGNOSTICS compile_error = MESSAGE_TEXT;
        problems := compile_error;
    END;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'the schema for "%" is not a valid JSON Schema', event_type
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = problems,
                  HINT = 'Check it against the meta-schema of its draft ($schema; 2020-12 when absent).';
    END IF;

    -- its $id (draft 4: id), absolute and without a fragment
    sid := coalesce(schema->>'$id', CASE WHEN schema->>'$schema' LIKE '%draft-04%' THEN schema->>'id' END);
    sid := regexp_replace(sid, '#$', '');
    IF sid !~ '^[A-Za-z][A-Za-z0-9+.-]*:' OR sid ~ '#' THEN
        RAISE EXCEPTION 'the $id of a registered schema must be an absolute URI without a fragment: "%"', sid
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- one registration at a time per event type
    PERFORM pg_advisory_xact_lock(hashtext('candystore.register_schema'), hashtext(event_type));
    SELECT s.version, s.schema INTO latest
      FROM @extschema@.schemas s WHERE s.event_type = register_schema_version.event_type
     ORDER BY s.version DESC LIMIT 1;
    has_latest := FOUND;
    IF has_latest AND latest.schema = schema THEN
        RETURN latest.version;          -- the same schema again
    END IF;

    IF sid IS NOT NULL THEN
        IF EXISTS (SELECT FROM @extschema@.schemas s WHERE s.schema_id = sid)
           OR EXISTS (SELECT FROM @extschema@.schema_resources r WHERE r.uri = sid AND r.document <> schema) THEN
            RAISE EXCEPTION 'the $id "%" already names another schema', sid
                USING ERRCODE = 'unique_violation',
                      HINT = 'A $id names one document for good: give the new version a new $id (for example ending in .v2.schema.json).';
        END IF;
    END IF;

    IF has_latest THEN
        reasons := ARRAY(SELECT @extschema@.schema_incompatibilities(latest.schema, schema));
        IF cardinality(reasons) > 0 AND NOT force THEN
            RAISE EXCEPTION 'the new schema for "%" is incompatible with version %', event_type, latest.version
                USING ERRCODE = '22V03',
                      DETAIL = array_to_string(reasons, E'\n'),
                      HINT = 'Payloads valid under the old version could be refused.  Pass force => true to register it anyway.';
        END IF;
    END IF;

    INSERT INTO @extschema@.schemas (event_type, version, schema, schema_id, incompatibilities, builtin)
    VALUES (event_type, coalesce(latest.version, 0) + 1, schema, sid, nullif(reasons, '{}'), builtin);
    RETURN coalesce(latest.version, 0) + 1;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.register_schema_version(text, jsonb, boolean, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.register_schema(event_type text, schema jsonb, force boolean DEFAULT false)
    RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.register_schema_version(event_type, schema, force, false) $$;
COMMENT ON FUNCTION @extschema@.register_schema(text, jsonb, boolean) IS
    'Registers a new version of the payload schema of event_type and returns its number (the latest version when the schema is the same).  An incompatible change is refused unless force.';
-- The extension owner only; GRANT EXECUTE to a schema-admin role to delegate.
REVOKE ALL ON FUNCTION @extschema@.register_schema(text, jsonb, boolean) FROM PUBLIC;

-- Ingest worker: dead letters, counters and status --------------------------------

CREATE TABLE @extschema@.dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    reason       text NOT NULL,
    sqlstate     text NOT NULL,
    routing_key  text,
    headers      jsonb,
    body         bytea NOT NULL,
    body_digest  bytea NOT NULL GENERATED ALWAYS AS (sha256(body)) STORED,
    redelivered  boolean NOT NULL DEFAULT false,
    -- redrive_dead_letters(): attempts so far; when one stored the message
    -- (or found it stored) and at which position
    redrive_attempts integer NOT NULL DEFAULT 0,
    redriven_at  timestamptz,
    position     bigint
);
COMMENT ON TABLE @extschema@.dead_letters IS
    'Messages the ingest worker could not store, with why, exactly as received.  Fix the cause, then candystore.redrive_dead_letters() stores those that now pass.';
CREATE INDEX dead_letters_received_at ON @extschema@.dead_letters (received_at);
-- a redelivered message already dead-lettered is not recorded twice
CREATE INDEX dead_letters_body_digest ON @extschema@.dead_letters (body_digest);
CREATE INDEX dead_letters_redriven_at ON @extschema@.dead_letters (redriven_at) WHERE redriven_at IS NOT NULL;
REVOKE ALL ON @extschema@.dead_letters FROM PUBLIC;
GRANT SELECT ON @extschema@.dead_letters TO candystore_reader;
GRANT DELETE ON @extschema@.dead_letters TO candystore_writer;

CREATE FUNCTION @extschema@.worker_stats(
    OUT delivered bigint, OUT stored bigint, OUT duplicates bigint,
    OUT dead_lettered bigint, OUT redelivered bigint, OUT batches bigint,
    OUT reconnects bigint)
    AS 'MODULE_PATHNAME', 'candystore_worker_stats'
    LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.worker_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.worker_stats() TO candystore_reader;

CREATE VIEW @extschema@.stats AS SELECT * FROM @extschema@.worker_stats();
COMMENT ON VIEW @extschema@.stats IS
    'Ingest worker counters since server start (shared memory; zero when candystore is not in shared_preload_libraries).';
REVOKE ALL ON @extschema@.stats FROM PUBLIC;
GRANT SELECT ON @extschema@.stats TO candystore_reader;

CREATE FUNCTION @extschema@.worker_status(
    OUT worker int, OUT pid int, OUT state text, OUT broker text,
    OUT connected_since timestamptz, OUT last_error text, OUT last_error_at timestamptz,
    OUT kind text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'candystore_worker_status'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.worker_status() IS
    'Each ingest worker, then the outbox publisher (kind ingest or publisher): state, broker, connected since, last error.';
REVOKE ALL ON FUNCTION @extschema@.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.worker_status() TO candystore_reader;

-- Redriving dead letters --------------------------------------------------------
-- Once the cause is fixed (a schema corrected, a producer's bug understood),
-- dead letters go through append again, each in its own subtransaction so
-- that one that still fails keeps its row, with the new reason, and does not
-- undo the others.

CREATE FUNCTION @extschema@.redrive_dead_letters(ids bigint[] DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    letter   record;
    stored   bigint;
    resolved bigint := 0;
    state    text;
    message  text;
    detail   text;
BEGIN
    FOR letter IN
        SELECT d.id, d.body, d.routing_key
          FROM @extschema@.dead_letters d
         WHERE d.redriven_at IS NULL
           AND (redrive_dead_letters.ids IS NULL OR d.id = ANY (redrive_dead_letters.ids))
         ORDER BY d.id
         -- a concurrent redrive takes the others
           FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            -- the body is read as the worker reads it: text in the database encoding
            stored := @extschema@.append(convert_from(letter.body, getdatabaseencoding())::jsonb,
                                         letter.routing_key);
            UPDATE @extschema@.dead_letters
               SET redrive_attempts = redrive_attempts + 1, redriven_at = now(), position = stored
             WHERE id = letter.id;
            resolved := resolved + 1;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
            -- what the worker dead-letters; any other error aborts the redrive
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                    detail = PG_EXCEPTION_DETAIL;
            UPDATE @extschema@.dead_letters
               SET redrive_attempts = redrive_attempts + 1,
                   reason = message || coalesce(': ' || nullif(detail, ''), ''),
                   sqlstate = state
             WHERE id = letter.id;
        END;
    END LOOP;
    RETURN resolved;
END
$$;
COMMENT ON FUNCTION @extschema@.redrive_dead_letters(bigint[]) IS
    'Appends the dead letters not yet redriven (all, or those with the ids given) again; those that now pass (or are found already stored) are marked redriven with their position, the rest keep their row with the new reason.  Returns how many were resolved.';
REVOKE ALL ON FUNCTION @extschema@.redrive_dead_letters(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.redrive_dead_letters(bigint[]) TO candystore_writer;

CREATE FUNCTION @extschema@.prune_dead_letters(older_than interval DEFAULT '7 days') RETURNS bigint
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint;
BEGIN
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, not %', older_than
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- only redriven letters: the others still wait for their cause to be fixed
    DELETE FROM @extschema@.dead_letters
     WHERE redriven_at < now() - prune_dead_letters.older_than;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION @extschema@.prune_dead_letters(interval) IS
    'Deletes the dead letters that were redriven more than older_than ago; returns how many.  Those never redriven stay.';
REVOKE ALL ON FUNCTION @extschema@.prune_dead_letters(interval) FROM PUBLIC;

-- The transactional outbox -------------------------------------------------------
-- publish() appends an event and enqueues it here in the caller's transaction;
-- the outbox publisher worker sends committed rows to RabbitMQ and marks them
-- published once the broker has confirmed them.  replay() enqueues stored
-- events again.

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
    published_at    timestamptz             -- NULL until the broker confirmed it
);
COMMENT ON TABLE @extschema@.outbox IS
    'Events waiting to be (or already) published to RabbitMQ, in send order.';
CREATE INDEX outbox_pending_idx ON @extschema@.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_position_idx ON @extschema@.outbox (position);
-- rows waiting for a retry hold back later rows of their routing key
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

CREATE FUNCTION @extschema@.replay("from" timestamptz, "to" timestamptz,
                                   event_types text[] DEFAULT NULL,
                                   routing_key_prefix text DEFAULT NULL) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.outbox_wake();
    WITH enqueued AS (
        INSERT INTO @extschema@.outbox (position, routing_key, headers)
        SELECT e.position, coalesce(e.routing_key, e.event_type), '{"x-candystore-replay": true}'
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
    'Enqueues the stored events that occurred in [from, to) again, in their original order, marked with the header x-candystore-replay; returns how many.';
REVOKE ALL ON FUNCTION @extschema@.replay(timestamptz, timestamptz, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replay(timestamptz, timestamptz, text[], text) TO candystore_writer;

CREATE FUNCTION @extschema@.retry_outbox() RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.outbox_wake();
    WITH due AS (
        UPDATE @extschema@.outbox SET next_attempt_at = NULL
         WHERE published_at IS NULL AND next_attempt_at > now()
        RETURNING 1)
    SELECT count(*) FROM due
$$;
COMMENT ON FUNCTION @extschema@.retry_outbox() IS
    'Makes the pending outbox rows that wait for a retry due now and wakes the publisher; returns how many.';
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
       p.reconnects AS outbox_reconnects
  FROM @extschema@.worker_stats() w,
       @extschema@.publisher_stats() p,
       (SELECT count(*) AS pending, now() - min(enqueued_at) AS oldest_pending_age
          FROM @extschema@.outbox WHERE published_at IS NULL) q;
COMMENT ON VIEW @extschema@.stats IS
    'Ingest worker and outbox publisher counters since server start (shared memory; zero when candystore is not in shared_preload_libraries), and the outbox rows pending now.';

-- Replaying one causation graph ------------------------------------------------------
-- replay_trace() enqueues every stored event of the graph an event belongs to
-- (candystore.trace), as replay() does for a time window.

CREATE FUNCTION @extschema@.replay_trace(event_id uuid) RETURNS bigint
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH enqueued AS (
        INSERT INTO @extschema@.outbox (position, routing_key, headers)
        SELECT e.position, coalesce(e.routing_key, e.event_type), '{"x-candystore-replay": true}'
          FROM @extschema@.event_log e
         -- parents that have not arrived are in the trace, not in the store
         WHERE e.event_id IN (SELECT t.event_id FROM @extschema@.trace(replay_trace.event_id) t)
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;
COMMENT ON FUNCTION @extschema@.replay_trace(uuid) IS
    'Enqueues every stored event of the causation graph this event belongs to again, in their original order, marked with the header x-candystore-replay; returns how many (0 for an unknown id).';
REVOKE ALL ON FUNCTION @extschema@.replay_trace(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replay_trace(uuid) TO candystore_writer;

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

-- Maintenance with pg_cron ----------------------------------------------------------
-- candystore works without pg_cron; where pg_cron is installed in the same
-- database, schedule_maintenance() registers the housekeeping jobs and
-- unschedule_maintenance() removes them.  Jobs are named candystore-*.

CREATE FUNCTION @extschema@.maintenance_jobs(outbox_retention interval DEFAULT '7 days',
                                               dead_letter_retention interval DEFAULT '7 days')
    RETURNS TABLE(job_name text, schedule text, command text)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('candystore-outbox-cleanup', '17 * * * *',
            format('SELECT @extschema@.cleanup_outbox(%L)', outbox_retention)),
           ('candystore-dead-letters-prune', '47 * * * *',
            format('SELECT @extschema@.prune_dead_letters(%L)', dead_letter_retention)),
           ('candystore-outbox-retry', '*/5 * * * *', 'SELECT @extschema@.retry_outbox()')
$$;
COMMENT ON FUNCTION @extschema@.maintenance_jobs(interval, interval) IS
    'The jobs schedule_maintenance() registers: name, cron schedule, command.';

CREATE FUNCTION @extschema@.schedule_maintenance(outbox_retention interval DEFAULT '7 days',
                                                   dead_letter_retention interval DEFAULT '7 days')
    RETURNS TABLE(job_name text, schedule text, command text, jobid bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries, set cron.database_name = %L, restart, and run CREATE EXTENSION pg_cron.', current_database());
    END IF;
    IF outbox_retention < interval '0' THEN
        RAISE EXCEPTION 'outbox_retention must not be negative, not %', outbox_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dead_letter_retention < interval '0' THEN
        RAISE EXCEPTION 'dead_letter_retention must not be negative, not %', dead_letter_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR job IN SELECT * FROM @extschema@.maintenance_jobs(outbox_retention, dead_letter_retention) LOOP
        job_name := job.job_name;
        schedule := job.schedule;
        command := job.command;
        -- scheduling a name that exists replaces that job
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, current_database())'
            INTO jobid USING job.job_name, job.schedule, job.command;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.schedule_maintenance(interval, interval) IS
    'Registers candystore''s housekeeping jobs with pg_cron (running them again updates them).';
REVOKE ALL ON FUNCTION @extschema@.schedule_maintenance(interval, interval) FROM PUBLIC;

CREATE FUNCTION @extschema@.unschedule_maintenance() RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint := 0;
    name text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN 0;
    END IF;
    FOR name IN EXECUTE 'SELECT jobname FROM cron.job WHERE jobname LIKE ''candystore-%'' AND database = current_database()' LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING name;
        removed := removed + 1;
    END LOOP;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION @extschema@.unschedule_maintenance() IS
    'Removes the jobs schedule_maintenance() registered; returns how many.';
REVOKE ALL ON FUNCTION @extschema@.unschedule_maintenance() FROM PUBLIC;
-- Generated by scripts/gen-schemas-sql.sh from schemas/: the shipped JSON Schemas.
DO $register$ BEGIN IF @extschema@.register_schema_version('agent.feedback.requested', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/agent/feedback.requested.v1.schema.json",
  "title": "AgentFeedbackRequestedPayload",
  "description": "agent.feedback.requested (Holyfields schemas/agent/feedback.requested.v1): routed by services.agent.feedback_router.",
  "type": "object",
  "properties": {
    "agent_id": {"type": "string"},
    "request_id": {"type": "string"},
    "content": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/agent/feedback.requested.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('agent.feedback.response', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/agent/feedback.response.v1.schema.json",
  "title": "AgentFeedbackResponsePayload",
  "description": "agent.feedback.response (Holyfields schemas/agent/feedback.response.v1): routed by services.agent.feedback_router.",
  "type": "object",
  "properties": {
    "agent_id": {"type": "string"},
    "request_id": {"type": "string"},
    "content": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/agent/feedback.response.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('agent.thread.error', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/agent/thread.error.v1.schema.json",
  "title": "AgentThreadError",
  "description": "agent.thread.error (fact): an LLM call failed.",
  "type": "object",
  "properties": {
    "provider": {"type": "string"},
    "model": {"type": ["string", "null"]},
    "error_message": {"type": "string"},
    "error_type": {"type": "string"},
    "is_retryable": {"type": "boolean"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/agent/thread.error.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('agent.thread.prompt', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/agent/thread.prompt.v1.schema.json",
  "title": "AgentThreadPrompt",
  "description": "agent.thread.prompt (command): run a prompt against an LLM (Bloodbank domains/agent/thread.py).",
  "type": "object",
  "required": ["provider", "prompt"],
  "properties": {
    "provider": {"type": "string", "minLength": 1, "description": "e.g. anthropic."},
    "model": {"type": ["string", "null"]},
    "prompt": {"type": "string"},
    "project": {"type": ["string", "null"]},
    "working_dir": {"type": ["string", "null"]},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/agent/thread.prompt.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('agent.thread.response', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/agent/thread.response.v1.schema.json",
  "title": "AgentThreadResponse",
  "description": "agent.thread.response (fact): the LLM responded.",
  "type": "object",
  "properties": {
    "provider": {"type": "string"},
    "model": {"type": ["string", "null"]},
    "response": {"type": "string"},
    "tokens_used": {"type": "integer", "minimum": 0},
    "duration_ms": {"type": "number", "minimum": 0},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/agent/thread.response.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('artifact.created', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/artifact/created.v1.schema.json",
  "title": "ArtifactCreatedPayload",
  "description": "artifact.created: a file or document was created (Bloodbank domains/artifact.py).",
  "type": "object",
  "properties": {
    "action": {"enum": ["created", "updated", "deleted"]},
    "kind": {"type": "string", "description": "e.g. transcript."},
    "uri": {"type": "string", "format": "uri"},
    "title": {"type": ["string", "null"]},
    "content": {"type": ["string", "null"], "description": "Optional full content."},
    "metadata": {
      "type": ["object", "null"],
      "properties": {
        "size_bytes": {"type": "integer", "minimum": 0},
        "mime_type": {"type": "string"}
      }
    },
    "meeting_id": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/artifact/created.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('artifact.deleted', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/artifact/deleted.v1.schema.json",
  "title": "ArtifactDeletedPayload",
  "description": "artifact.deleted: a file or document was deleted (Bloodbank domains/artifact.py).",
  "type": "object",
  "properties": {
    "action": {"enum": ["created", "updated", "deleted"]},
    "kind": {"type": "string", "description": "e.g. transcript."},
    "uri": {"type": "string", "format": "uri"},
    "title": {"type": ["string", "null"]},
    "content": {"type": ["string", "null"], "description": "Optional full content."},
    "metadata": {
      "type": ["object", "null"],
      "properties": {
        "size_bytes": {"type": "integer", "minimum": 0},
        "mime_type": {"type": "string"}
      }
    },
    "meeting_id": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/artifact/deleted.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('artifact.updated', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/artifact/updated.v1.schema.json",
  "title": "ArtifactUpdatedPayload",
  "description": "artifact.updated: a file or document was updated (Bloodbank domains/artifact.py).",
  "type": "object",
  "properties": {
    "action": {"enum": ["created", "updated", "deleted"]},
    "kind": {"type": "string", "description": "e.g. transcript."},
    "uri": {"type": "string", "format": "uri"},
    "title": {"type": ["string", "null"]},
    "content": {"type": ["string", "null"], "description": "Optional full content."},
    "metadata": {
      "type": ["object", "null"],
      "properties": {
        "size_bytes": {"type": "integer", "minimum": 0},
        "mime_type": {"type": "string"}
      }
    },
    "meeting_id": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/artifact/updated.v1.schema.json: registered under another version than 1'; END IF; END $register$;
INSERT INTO @extschema@.schema_resources (uri, document, builtin)
SELECT pg_catalog.regexp_replace(d->>'$id', '#$', ''), d, true FROM (SELECT $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/core/event-envelope.v1.schema.json",
  "title": "EventEnvelope",
  "description": "The canonical 33GOD event envelope, v1. Mirrors candystore's C envelope checker (README, \"The envelope (v1)\"), which is what append() enforces; this schema is for producers and consumers.",
  "type": "object",
  "required": ["event_id", "event_type", "timestamp", "version", "source", "payload"],
  "properties": {
    "event_id": {"$ref": "#/$defs/event_id"},
    "event_type": {
      "description": "Two or more dot-separated segments of a-z, 0-9 and _, each starting with a letter.",
      "type": "string",
      "maxLength": 255,
      "pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$"
    },
    "timestamp": {
      "description": "RFC 3339 date-time with a UTC offset.",
      "type": "string",
      "format": "date-time"
    },
    "version": {
      "description": "Semantic MAJOR.MINOR.PATCH (Bloodbank) or vN (Holyfields).",
      "type": "string",
      "pattern": "^([0-9]+\\.[0-9]+\\.[0-9]+|v[0-9]+)$"
    },
    "source": {
      "type": "object",
      "required": ["host", "type"],
      "properties": {
        "host": {"type": "string", "minLength": 1},
        "type": {"enum": ["manual", "agent", "scheduled", "webhook", "system", "file_watch", "hook"]},
        "app": {"type": ["string", "null"]},
        "meta": {"type": ["object", "null"]}
      }
    },
    "correlation_ids": {
      "description": "The event's parent events. Missing means no parents; null is refused.",
      "type": "array",
      "items": {"$ref": "#/$defs/uuid"}
    },
    "correlation_id": {
      "description": "Legacy single parent, merged into correlation_ids.",
      "anyOf": [{"$ref": "#/$defs/uuid"}, {"type": "null"}]
    },
    "agent_context": {"type": ["object", "null"]},
    "trace_context": {"type": ["object", "null"]},
    "payload": {"type": "object"}
  },
  "$defs": {
    "uuid": {
      "description": "A UUID in hyphenated 8-4-4-4-12 form, either case.",
      "type": "string",
      "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    },
    "event_id": {
      "allOf": [{"$ref": "#/$defs/uuid"}],
      "not": {"const": "00000000-0000-0000-0000-000000000000"}
    }
  }
}
$schema_json$::jsonb AS d) s;
DO $register$ BEGIN IF @extschema@.register_schema_version('fireflies.transcript.failed', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/fireflies/transcript.failed.v1.schema.json",
  "title": "FirefliesTranscriptFailedPayload",
  "description": "fireflies.transcript.failed: an error at any stage of the transcript flow.",
  "type": "object",
  "properties": {
    "failed_stage": {"type": "string", "description": "e.g. upload, transcription, processing."},
    "error_message": {"type": "string"},
    "transcript_id": {"type": ["string", "null"]},
    "retry_count": {"type": "integer", "minimum": 0},
    "is_retryable": {"type": "boolean"},
    "meeting_id": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/fireflies/transcript.failed.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('fireflies.transcript.processed', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/fireflies/transcript.processed.v1.schema.json",
  "title": "FirefliesTranscriptProcessedPayload",
  "description": "fireflies.transcript.processed: RAG ingestion of a transcript completed.",
  "type": "object",
  "properties": {
    "transcript_id": {"type": "string", "minLength": 1},
    "rag_document_id": {"type": "string"},
    "sentence_count": {"type": "integer", "minimum": 0},
    "chunk_count": {"type": "integer", "minimum": 0},
    "embedding_model": {"type": "string"},
    "vector_store": {"type": "string"},
    "meeting_id": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/fireflies/transcript.processed.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('fireflies.transcript.ready', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/fireflies/transcript.ready.v1.schema.json",
  "title": "FirefliesTranscriptReadyPayload",
  "description": "fireflies.transcript.ready: the Fireflies webhook, with the full transcript. The seeds agree that id is required (Bloodbank's model also requires duration and sentences, its schema viewer title; only what every seed requires is required here).",
  "type": "object",
  "required": ["id"],
  "properties": {
    "id": {"type": "string", "minLength": 1, "maxLength": 255},
    "title": {"type": "string"},
    "duration": {"type": "number", "minimum": 0, "maximum": 86400, "description": "Seconds."},
    "sentences": {
      "type": "array",
      "maxItems": 10000,
      "items": {
        "type": "object",
        "properties": {
          "index": {"type": "integer", "minimum": 0},
          "speaker_name": {"type": ["string", "null"]},
          "speaker": {"type": ["string", "null"]},
          "text": {"type": "string"},
          "start_time": {"type": "number", "minimum": 0},
          "end_time": {"type": "number", "minimum": 0}
        }
      }
    },
    "summary": {"type": ["string", "object", "null"]},
    "participants": {"type": "array", "items": {"type": ["string", "object"]}},
    "user": {"type": ["object", "null"]},
    "meeting_id": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/fireflies/transcript.ready.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('fireflies.transcript.upload', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/fireflies/transcript.upload.v1.schema.json",
  "title": "FirefliesTranscriptUploadPayload",
  "description": "fireflies.transcript.upload: a recording submitted for transcription (Bloodbank domains/fireflies.py).",
  "type": "object",
  "properties": {
    "media_file": {"type": "string", "minLength": 1, "description": "Where the recording is, e.g. s3://bucket/recording.mp3."},
    "media_duration_seconds": {"type": "number", "minimum": 0},
    "media_type": {"type": "string", "description": "MIME type, e.g. audio/mpeg."},
    "title": {"type": "string"},
    "user_id": {"type": "string"},
    "meeting_id": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/fireflies/transcript.upload.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('github.pr.created', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/github/pr.created.v1.schema.json",
  "title": "GitHubPRCreatedPayload",
  "description": "github.pr.created: a pull request was opened. Cache-based payload: the PR data is in the cache under cache_key.",
  "type": "object",
  "required": ["cache_key", "cache_type"],
  "properties": {
    "cache_key": {"type": "string", "minLength": 1, "description": "e.g. trinote|423."},
    "cache_type": {"type": "string", "description": "e.g. redis."}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/github/pr.created.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('llm.prompt', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/llm/prompt.v1.schema.json",
  "title": "LLMPrompt",
  "description": "llm.prompt: a prompt published through Bloodbank's MCP server (publish_llm_prompt(provider, prompt, model=None)).",
  "type": "object",
  "required": ["provider", "prompt"],
  "properties": {
    "provider": {"type": "string", "minLength": 1},
    "prompt": {"type": "string"},
    "model": {"type": ["string", "null"]}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/llm/prompt.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('theboard.meeting.completed', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/theboard/meeting.completed.v1.schema.json",
  "title": "TheBoardMeetingCompletedPayload",
  "description": "theboard.meeting.completed: a TheBoard brainstorming meeting was completed.",
  "type": "object",
  "properties": {
    "meeting_id": {"type": "string", "minLength": 1},
    "topic": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/theboard/meeting.completed.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('theboard.meeting.converged', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/theboard/meeting.converged.v1.schema.json",
  "title": "TheBoardMeetingConvergedPayload",
  "description": "theboard.meeting.converged: a TheBoard brainstorming meeting was converged.",
  "type": "object",
  "properties": {
    "meeting_id": {"type": "string", "minLength": 1},
    "topic": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/theboard/meeting.converged.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('theboard.meeting.created', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/theboard/meeting.created.v1.schema.json",
  "title": "TheBoardMeetingCreatedPayload",
  "description": "theboard.meeting.created: a TheBoard brainstorming meeting was created.",
  "type": "object",
  "properties": {
    "meeting_id": {"type": "string", "minLength": 1},
    "topic": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/theboard/meeting.created.v1.schema.json: registered under another version than 1'; END IF; END $register$;
DO $register$ BEGIN IF @extschema@.register_schema_version('theboard.meeting.started', $schema_json$
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://33god.dev/schemas/theboard/meeting.started.v1.schema.json",
  "title": "TheBoardMeetingStartedPayload",
  "description": "theboard.meeting.started: a TheBoard brainstorming meeting was started.",
  "type": "object",
  "properties": {
    "meeting_id": {"type": "string", "minLength": 1},
    "topic": {"type": "string"},
    "session_id": {"type": "string"}
  }
}
$schema_json$::jsonb, false, true) <> 1 THEN
    RAISE EXCEPTION 'schemas/theboard/meeting.started.v1.schema.json: registered under another version than 1'; END IF; END $register$;
