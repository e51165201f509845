
-- Erasure ---------------------------------------------------------------------------
-- erase() and erase_subject() replace the personal content of stored events by
-- a tombstone (docs/operations.md, "Erasure"): the envelope keeps event_id,
-- event_type, timestamp, version, source (without meta), the parents and
-- trace_context; its payload becomes {"candystore_erasure": {...}} naming the
-- erasure and the SHA-256 of the original envelope's text, so a redelivered
-- original is recognised as a duplicate.  Positions, times, event_ids and the
-- causation columns do not change.  Erasure is the one UPDATE the immutability
-- triggers let through: the C function sets a flag no SQL can reach around its
-- own statement.  candystore_eraser may erase (EXECUTE is its only grant).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_eraser') THEN
        CREATE ROLE candystore_eraser NOLOGIN;
    END IF;
END
$roles$;
GRANT USAGE ON SCHEMA @extschema@ TO candystore_eraser;

-- Where the subject (a person, a participant id) sits in a payload, per event type.
CREATE TABLE @extschema@.subject_paths (
    event_type    text NOT NULL,
    path          text NOT NULL CHECK (path::jsonpath IS NOT NULL),   -- a jsonpath applied to the payload
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, path)
);
COMMENT ON TABLE @extschema@.subject_paths IS
    'Per event type, the payload paths (jsonpath) whose values name the subject erase_subject() erases.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.subject_paths', '');
REVOKE ALL ON @extschema@.subject_paths FROM PUBLIC;
GRANT SELECT ON @extschema@.subject_paths TO candystore_eraser;

-- The audit: who erased which events when and why; never what they held.
CREATE TABLE @extschema@.erasures (
    erasure_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    erased_by   name NOT NULL,           -- current_user of the call
    session_user_name name NOT NULL,     -- the login role behind it
    reason      text NOT NULL,
    by_subject  boolean NOT NULL,        -- erase_subject() (the subject itself is not kept)
    events      bigint NOT NULL
);
COMMENT ON TABLE @extschema@.erasures IS
    'One row per erase()/erase_subject() call: who, when, why, how many events; no content.';
CREATE TABLE @extschema@.erased_events (
    erasure_id bigint NOT NULL REFERENCES @extschema@.erasures,
    event_id   uuid NOT NULL,
    position   bigint NOT NULL,
    PRIMARY KEY (erasure_id, event_id)
);
COMMENT ON TABLE @extschema@.erased_events IS
    'The events each erasure replaced by a tombstone.';
CREATE INDEX erased_events_event_id_idx ON @extschema@.erased_events (event_id);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.erasures', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.erasures', 'erasure_id'), '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.erased_events', '');
REVOKE ALL ON @extschema@.erasures FROM PUBLIC;
REVOKE ALL ON @extschema@.erased_events FROM PUBLIC;
GRANT SELECT ON @extschema@.erasures TO candystore_eraser;
GRANT SELECT ON @extschema@.erased_events TO candystore_eraser;
-- The audit is kept as the events are: only erase() writes it.
CREATE TRIGGER erasures_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.erasures
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
CREATE TRIGGER erased_events_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.erased_events
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
-- ALWAYS: also with session_replication_role = replica
ALTER TABLE @extschema@.erasures ENABLE ALWAYS TRIGGER erasures_immutable;
ALTER TABLE @extschema@.erased_events ENABLE ALWAYS TRIGGER erased_events_immutable;

CREATE FUNCTION @extschema@.envelope_digest(envelope jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_envelope_digest'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.envelope_digest(jsonb) IS
    'The hex SHA-256 of the envelope''s jsonb text: what a tombstone keeps of the original.';

CREATE FUNCTION @extschema@.register_subject_path(event_type text, path jsonpath) RETURNS void
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO @extschema@.subject_paths (event_type, path)
    VALUES (register_subject_path.event_type, register_subject_path.path::text)
    ON CONFLICT DO NOTHING
$$;
COMMENT ON FUNCTION @extschema@.register_subject_path(text, jsonpath) IS
    'Registers a payload path (jsonpath) naming the subject of events of this type, for erase_subject().';
REVOKE ALL ON FUNCTION @extschema@.register_subject_path(text, jsonpath) FROM PUBLIC;

CREATE FUNCTION @extschema@.unregister_subject_path(event_type text, path jsonpath) RETURNS boolean
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM @extschema@.subject_paths s
         WHERE s.event_type = unregister_subject_path.event_type
           AND s.path = unregister_subject_path.path::text
        RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;
COMMENT ON FUNCTION @extschema@.unregister_subject_path(text, jsonpath) IS
    'Removes a registered subject path; returns whether it was registered.';
REVOKE ALL ON FUNCTION @extschema@.unregister_subject_path(text, jsonpath) FROM PUBLIC;

CREATE FUNCTION @extschema@.erase(event_ids uuid[], reason text,
                                  OUT erasure_id bigint, OUT events bigint)
    AS 'MODULE_PATHNAME', 'candystore_erase'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp
    -- compiling a one-off statement over every partition costs more than it saves
    SET jit = off;
COMMENT ON FUNCTION @extschema@.erase(uuid[], text) IS
    'Replaces the content of these stored events by tombstones and records the erasure; returns its id and how many events it erased (already erased ones are skipped).';
REVOKE ALL ON FUNCTION @extschema@.erase(uuid[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.erase(uuid[], text) TO candystore_eraser;

CREATE FUNCTION @extschema@.erase_subject(subject text, reason text,
                                          OUT erasure_id bigint, OUT events bigint)
    AS 'MODULE_PATHNAME', 'candystore_erase_subject'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp
    -- compiling a one-off statement over every partition costs more than it saves
    SET jit = off;
COMMENT ON FUNCTION @extschema@.erase_subject(text, text) IS
    'erase() of every stored event whose payload names the subject at a registered subject path of its type.';
REVOKE ALL ON FUNCTION @extschema@.erase_subject(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.erase_subject(text, text) TO candystore_eraser;
