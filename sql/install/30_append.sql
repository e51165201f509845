
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
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.envelope
      FROM @extschema@.event_ids i
      JOIN @extschema@.event_log l ON l.position = i.position
     WHERE i.event_id = get_event.event_id
       AND @extschema@.event_type_visible(l.event_type)
$$;
COMMENT ON FUNCTION @extschema@.get_event(uuid) IS
    'The envelope exactly as it was appended, or NULL (also for an event of a type the invoking role may not see).';
-- SECURITY DEFINER: it finds the event through event_ids (one probe whatever
-- its partition), which readers cannot read.
REVOKE ALL ON FUNCTION @extschema@.get_event(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.get_event(uuid) TO candystore_reader;
