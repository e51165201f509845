
-- Importing the old Candystore table ---------------------------------------------
-- import_legacy() reads a table shaped like the store candystore replaces
-- (SQLAlchemy StoredEvent: id, event_type, source as a string, target,
-- routing_key, timestamp, payload, session_id, a single correlation_id; no
-- version, no agent_context) and appends its rows through append_many().
-- What an envelope needs and the old row lacks is filled in and named in the
-- envelope's "legacy_import" member, beside the old row's other columns as
-- they were; rows the envelope checks refuse go to legacy_import_refusals.

-- The event id of an old row whose id is not a UUID: the name-based UUID
-- (version 3, MD5, RFC 4122) of the old id in a namespace of candystore's own,
-- uuid5(NAMESPACE_URL, 'https://33god.dev/candystore/legacy-event-id'), so a
-- re-run gives the same id and anyone can recompute it
-- (Python: uuid.uuid3(uuid.UUID('c3b247a2-8b3d-5a9c-8340-d5e2e90d962a'), old_id)).
CREATE FUNCTION @extschema@.legacy_event_id(legacy_id text) RETURNS uuid
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
-- bound when created (a SQL-standard body), so no caller's search_path
-- redirects it, and without SET so that a query can inline it; STABLE, as
-- convert_to() is (an IMMUTABLE function with a STABLE body is not inlined)
RETURN pg_catalog.encode(pg_catalog.set_byte(pg_catalog.set_byte(
    pg_catalog.decode(pg_catalog.md5('\xc3b247a28b3d5a9c8340d5e2e90d962a'::bytea || pg_catalog.convert_to(legacy_id, 'UTF8')), 'hex'),
    6, (pg_catalog.get_byte(pg_catalog.decode(pg_catalog.md5('\xc3b247a28b3d5a9c8340d5e2e90d962a'::bytea || pg_catalog.convert_to(legacy_id, 'UTF8')), 'hex'), 6) & 15) | 48),
    8, (pg_catalog.get_byte(pg_catalog.decode(pg_catalog.md5('\xc3b247a28b3d5a9c8340d5e2e90d962a'::bytea || pg_catalog.convert_to(legacy_id, 'UTF8')), 'hex'), 8) & 63) | 128), 'hex')::uuid;
COMMENT ON FUNCTION @extschema@.legacy_event_id(text) IS
    'The event id import_legacy() gives an old row whose id is not a UUID: uuid3 of the old id in namespace c3b247a2-8b3d-5a9c-8340-d5e2e90d962a.';
REVOKE ALL ON FUNCTION @extschema@.legacy_event_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.legacy_event_id(text) TO candystore_reader;

-- jsonb of a text column holding JSON, or NULL when it does not parse.
CREATE FUNCTION @extschema@.legacy_jsonb(doc text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN doc::jsonb;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.legacy_jsonb(text) FROM PUBLIC;

CREATE TABLE @extschema@.legacy_import_refusals (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL,              -- the table read, as named then
    legacy_id   text,                       -- the old row's id
    sqlstate    text NOT NULL,
    reason      text NOT NULL,              -- the error: message, then detail
    envelope    jsonb,                      -- the envelope built from the row
    legacy_row  jsonb NOT NULL,             -- the old row, every column, as read
    refused_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.legacy_import_refusals IS
    'The rows of the last import_legacy() run of each source table that were not stored, and why.';
CREATE INDEX legacy_import_refusals_source_idx ON @extschema@.legacy_import_refusals (source, legacy_id);
REVOKE ALL ON @extschema@.legacy_import_refusals FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.legacy_import_refusals', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.legacy_import_refusals', 'id'), '');

CREATE FUNCTION @extschema@.import_legacy(source regclass, batch_size int DEFAULT 1000,
                                          timestamps_without_zone_are text DEFAULT 'UTC')
    RETURNS TABLE (read bigint, imported bigint, duplicates bigint, refused bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src text := source::text;
    cols jsonb;                 -- column name -> type name
    id_type text;
    ts_expr text;
    payload_expr text;
    corr_expr text;
    rest_expr text;
    q text;
    r record;
    envs jsonb[] := '{}';
    keys text[] := '{}';
    ids text[] := '{}';
    olds jsonb[] := '{}';
    o record;
    n_read bigint := 0;
    n_imported bigint := 0;
    n_duplicates bigint := 0;
    n_refused bigint := 0;
    missing text[];
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = '22023';
    END IF;
    PERFORM now() AT TIME ZONE timestamps_without_zone_are;    -- an unknown zone raises here
    SELECT jsonb_object_agg(a.attname, format_type(a.atttypid, NULL))
      INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT array_agg(c ORDER BY c) INTO missing
      FROM unnest(ARRAY['id', 'event_type', 'source', 'timestamp', 'payload']) c
     WHERE NOT cols ? c;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'table % is not shaped like the old Candystore table', src
            USING ERRCODE = '42703',
                  DETAIL = format('Missing column(s): %s.', array_to_string(missing, ', ')),
                  HINT = 'import_legacy needs columns id, event_type, source, timestamp and payload; target, routing_key, session_id, correlation_id and any others are kept as they are.';
    END IF;
    id_type := cols->>'id';

    -- the time as RFC 3339 in UTC; a time without a zone is read in the zone given
    ts_expr := CASE cols->>'timestamp'
        WHEN 'timestamp with time zone' THEN
            $e$to_char(t."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')$e$
        WHEN 'timestamp without time zone' THEN
            format($e$to_char((t."timestamp" AT TIME ZONE %L) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')$e$,
                   timestamps_without_zone_are)
        ELSE 't."timestamp"::text' END;
    payload_expr := CASE WHEN cols->>'payload' IN ('json', 'jsonb') THEN 't.payload::jsonb'
                         ELSE 'coalesce(@extschema@.legacy_jsonb(t.payload::text), to_jsonb(t.payload))' END;
    -- a correlation id that is not a UUID is a parent when it names an old
    -- row: looked up in the id's index when the two columns have one type,
    -- else among the ids as text (hashed once)
    corr_expr := CASE WHEN cols ? 'correlation_id' THEN format(
        $e$CASE WHEN t.correlation_id IS NULL THEN NULL
                WHEN t.correlation_id::text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                    THEN t.correlation_id::text
                WHEN %s
                    THEN @extschema@.legacy_event_id(t.correlation_id::text)::text END$e$,
        CASE WHEN cols->>'correlation_id' = id_type
             THEN format('EXISTS (SELECT 1 FROM %s parent_row WHERE parent_row.id = t.correlation_id)', src)
             ELSE format('t.correlation_id::text IN (SELECT parent_row.id::text FROM %s parent_row)', src) END)
        ELSE 'NULL::text' END;

    -- the row's other columns as to_jsonb(t) gives them, without converting
    -- the payload once more (jsonb_build_object takes at most 100 arguments)
    SELECT CASE WHEN count(*) <= 50
                THEN 'jsonb_build_object(' || string_agg(format('%L, t.%I', c, c), ', ') || ')'
                ELSE $e$to_jsonb(t) - 'payload' - 'event_type'$e$ END
      INTO rest_expr
      FROM jsonb_object_keys(cols) c WHERE c NOT IN ('payload', 'event_type');

    -- the envelope of each row, built by the query (see the table in
    -- docs/reference.md): the old values where the envelope has a place for
    -- them; what it requires and the row lacks filled in and named in
    -- legacy_import.reconstructed; the rest of the row in legacy_import.row
    q := format($e$
        SELECT t.id::text AS legacy_id, %2$s AS routing_key,
               o.old || jsonb_build_object('event_type', t.event_type, 'payload', %9$s) AS old,
               jsonb_build_object(
                   'event_id', CASE WHEN k.kept THEN t.id::text ELSE @extschema@.legacy_event_id(t.id::text)::text END,
                   'event_type', t.event_type::text,
                   'timestamp', %1$s,
                   'version', '0.0.0',
                   'source', jsonb_build_object('host', t.source::text, 'type', 'system'),
                   'payload', coalesce(p.payload, '{}'))
               || CASE WHEN c.parent IS NULL THEN '{}' ELSE jsonb_build_object('correlation_id', c.parent) END
               || jsonb_build_object('legacy_import', jsonb_build_object(
                      'table', %6$L,
                      'reconstructed', to_jsonb(array_remove(ARRAY[
                          CASE WHEN NOT k.kept THEN 'event_id' END,
                          CASE WHEN %7$L THEN 'timestamp' END,
                          'version', 'source.type',
                          CASE WHEN c.parent <> coalesce(o.old->>'correlation_id', '') THEN 'correlation_id' END,
                          CASE WHEN p.payload IS NULL THEN 'payload' END], NULL)),
                      'row', o.old)) AS envelope
          FROM %5$s t,
               -- OFFSET 0: each computed once per row, not once per use
               LATERAL (SELECT %8$s AS old OFFSET 0) o,
               LATERAL (SELECT CASE WHEN t.id::text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                    THEN t.id::text::uuid <> '00000000-0000-0000-0000-000000000000' END AS kept OFFSET 0) k,
               LATERAL (SELECT %3$s AS payload OFFSET 0) p,
               LATERAL (SELECT %4$s AS parent OFFSET 0) c
         ORDER BY t."timestamp", t.id$e$,
        ts_expr, CASE WHEN cols ? 'routing_key' THEN 't.routing_key::text' ELSE 'NULL::text' END,
        payload_expr, corr_expr, source, src, cols->>'timestamp' = 'timestamp without time zone', rest_expr,
        CASE WHEN cols->>'payload' IN ('json', 'jsonb') THEN 'p.payload' ELSE 'to_jsonb(t.payload)' END);

    DELETE FROM @extschema@.legacy_import_refusals WHERE legacy_import_refusals.source = src;
    FOR r IN EXECUTE q LOOP
        n_read := n_read + 1;
        ids := array_append(ids, r.legacy_id);
        olds := array_append(olds, r.old);
        keys := array_append(keys, r.routing_key);
        envs := array_append(envs, r.envelope);
        IF cardinality(envs) >= batch_size THEN
            SELECT * INTO o FROM @extschema@.import_legacy_batch(src, envs, keys, ids, olds);
            n_imported := n_imported + o.imported;
            n_duplicates := n_duplicates + o.duplicates;
            n_refused := n_refused + o.refused;
            envs := '{}'; keys := '{}'; ids := '{}'; olds := '{}';
        END IF;
    END LOOP;
    IF cardinality(envs) > 0 THEN
        SELECT * INTO o FROM @extschema@.import_legacy_batch(src, envs, keys, ids, olds);
        n_imported := n_imported + o.imported;
        n_duplicates := n_duplicates + o.duplicates;
        n_refused := n_refused + o.refused;
    END IF;
    RETURN QUERY SELECT n_read, n_imported, n_duplicates, n_refused;
END
$$;
COMMENT ON FUNCTION @extschema@.import_legacy(regclass, int, text) IS
    'Appends the rows of a table shaped like the old Candystore table, in batches through append_many(); returns the counts; refused rows go to legacy_import_refusals.  Safe to run again.';
REVOKE ALL ON FUNCTION @extschema@.import_legacy(regclass, int, text) FROM PUBLIC;

-- One batch: append_many(); if a row is refused, the rows one at a time, so
-- that the others are stored and each refusal is recorded with its reason.
-- Only errors caused by the row (classes 22, 23, 54) are refusals; any other
-- error stops the import, and a re-run continues it.
CREATE FUNCTION @extschema@.import_legacy_batch(source text, envs jsonb[], keys text[], ids text[], olds jsonb[],
                                                OUT imported bigint, OUT duplicates bigint, OUT refused bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    outcome text;
    state text;
    msg text;
    detail text;
BEGIN
    imported := 0; duplicates := 0; refused := 0;
    BEGIN
        SELECT count(*) FILTER (WHERE m.outcome = 'stored'), count(*) FILTER (WHERE m.outcome = 'duplicate')
          INTO imported, duplicates
          FROM @extschema@.append_many(envs, keys) m;
        RETURN;
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
        NULL;   -- some row is refused: try them one by one
    END;
    FOR i IN 1 .. cardinality(envs) LOOP
        BEGIN
            SELECT m.outcome INTO outcome FROM @extschema@.append_many(ARRAY[envs[i]], ARRAY[keys[i]]) m;
            IF outcome = 'stored' THEN imported := imported + 1; ELSE duplicates := duplicates + 1; END IF;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
            INSERT INTO @extschema@.legacy_import_refusals (source, legacy_id, sqlstate, reason, envelope, legacy_row)
            VALUES (source, ids[i], state, msg || coalesce(nullif(' (' || detail || ')', ' ()'), ''), envs[i], olds[i]);
            refused := refused + 1;
        END;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.import_legacy_batch(text, jsonb[], text[], text[], jsonb[]) FROM PUBLIC;
