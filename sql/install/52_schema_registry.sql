
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
-- ALWAYS: also with session_replication_role = replica.
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_are_add_only;
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_are_not_truncated;

-- Every session drops its cached latest versions when the table changes
-- (schemas_changed() is in 15_event_type_grants.sql).
CREATE TRIGGER schemas_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.schemas
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();
-- A registration made in replica mode drops the caches too.
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_invalidate_caches;

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

    -- every reference resolves now: one left dangling would let anyone who
    -- may add_schema_resource() write part of the contract later
    IF cardinality(@extschema@.jsonschema_unresolved_refs(schema)) > 0 THEN
        RAISE EXCEPTION 'the schema for "%" refers to documents that do not exist', event_type
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Unresolved: ' || array_to_string(@extschema@.jsonschema_unresolved_refs(schema), ', '),
                  HINT = 'Add them with candystore.add_schema_resource() (or register them) first.';
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
