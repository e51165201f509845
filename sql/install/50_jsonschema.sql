
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
-- pg_dump keeps the resources users added (the meta-schemas come with the
-- install script).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.schema_resources', 'WHERE NOT builtin');

-- Add-only for every role and in every mode, as the registry is: the
-- documents a registered schema was checked against stay what its $refs name.
CREATE FUNCTION @extschema@.schema_resources_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'schema resources cannot be changed or removed'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Add the new document under a new URI with candystore.add_schema_resource().';
END
$$;
CREATE TRIGGER schema_resources_are_add_only
    BEFORE UPDATE OR DELETE ON @extschema@.schema_resources
    FOR EACH ROW EXECUTE FUNCTION @extschema@.schema_resources_refuse_change();
CREATE TRIGGER schema_resources_are_not_truncated
    BEFORE TRUNCATE ON @extschema@.schema_resources
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schema_resources_refuse_change();
ALTER TABLE @extschema@.schema_resources ENABLE ALWAYS TRIGGER schema_resources_are_add_only;
ALTER TABLE @extschema@.schema_resources ENABLE ALWAYS TRIGGER schema_resources_are_not_truncated;

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

CREATE FUNCTION @extschema@.jsonschema_unresolved_refs(schema jsonb) RETURNS text[]
    AS 'MODULE_PATHNAME', 'jsonschema_unresolved_references'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jsonschema_unresolved_refs(jsonb) IS
    'The absolute URIs that $refs of schema, or of the documents they lead to, name but that resolve to nothing; empty when every reference resolves.';

CREATE FUNCTION @extschema@.jsonschema_reset_cache() RETURNS void
    AS 'MODULE_PATHNAME', 'jsonschema_reset_cache'
    LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jsonschema_reset_cache() IS
    'Drops the compiled schemas cached by this session.';

-- Resources are add-only: a compiled schema cached by any session stays
-- right, because what a URI names never changes.  The $id of a registered
-- schema (52_schema_registry.sql) is refused: it names that schema.
CREATE FUNCTION @extschema@.add_schema_resource(uri text, document jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing jsonb;
    registered record;
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
    -- a registered schema is a contract: no resource may take its $id (the
    -- resolver prefers the registered schema anyway)
    SELECT s.event_type, s.version INTO registered
      FROM @extschema@.schemas s WHERE s.schema_id = add_schema_resource.uri;
    IF FOUND THEN
        RAISE EXCEPTION 'schema resource URI "%" is the $id of a registered schema', uri
            USING ERRCODE = 'unique_violation',
                  DETAIL = pg_catalog.format('Version %s of the schema of "%s" has this $id.', registered.version, registered.event_type),
                  HINT = 'Registered schemas are reachable by their $id already; add the resource under another URI.';
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
