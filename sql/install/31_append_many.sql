
-- Appending in bulk ---------------------------------------------------------------
-- append() for a batch: the same checks, idempotency, conflicts, causation
-- links and notification, in multi-row inserts (store.c).

CREATE FUNCTION @extschema@.append_many(envelopes jsonb[], routing_keys text[] DEFAULT NULL)
    RETURNS TABLE (ordinality integer, event_id uuid, "position" bigint, outcome text)
    AS 'MODULE_PATHNAME', 'candystore_append_many'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1000
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.append_many(jsonb[], text[]) IS
    'append() for an array of envelopes, in order, all or nothing: one row per envelope (its 1-based ordinality, event id, position, and outcome ''stored'' or ''duplicate'').';
REVOKE ALL ON FUNCTION @extschema@.append_many(jsonb[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.append_many(jsonb[], text[]) TO candystore_writer;
