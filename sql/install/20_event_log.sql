
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
-- ALWAYS: also with session_replication_role = replica, where ordinary
-- triggers do not fire.
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_immutable;

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
