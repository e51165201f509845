
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
