-- candystore 0.1.0 -> 0.2.0.  ALTER EXTENSION candystore UPDATE runs this
-- script on an installation of 0.1.0; afterwards its catalog must equal a
-- fresh CREATE EXTENSION of 0.2.0 (t/upgrade_from_0_1_0.pl compares them).
-- Every change of the SQL surface in sql/install/ is repeated here, in the
-- section of its concern.
\echo Use "ALTER EXTENSION candystore UPDATE TO '0.2.0'" to load this file. \quit

-- Backups: pg_dump keeps the resources users added and the dead letters ------
SELECT pg_catalog.pg_extension_config_dump('@extschema@.schema_resources', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.dead_letters', 'id'), '');

-- Hardening: a writer cannot lower the contracts -----------------------------
-- candystore.jsonschema_format_assertion and candystore.jsonschema_default_draft
-- are superuser-only now (in the library).  A resource cannot take the $id of
-- a registered schema, and the resolver prefers registered schemas (in the
-- library).
CREATE OR REPLACE FUNCTION @extschema@.add_schema_resource(uri text, document jsonb) RETURNS void
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

-- Hardening: immutability holds in replica mode ------------------------------
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_immutable;
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_are_add_only;
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_are_not_truncated;
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_invalidate_caches;
