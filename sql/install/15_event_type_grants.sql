
-- Authorization by event type -----------------------------------------------------
-- A role restricted by grants here sees and writes only the event types its
-- patterns match (src/event_type_grants.c).  A role is restricted once it,
-- or a role it inherits, has a grant; the owner and superusers never are;
-- with no grants at all nothing changes.  Every reading function, view and
-- write path applies event_type_visible() for the invoking role (the outer
-- user: the session's role or SET ROLE's, which SECURITY DEFINER does not
-- change).

CREATE TABLE @extschema@.event_type_grants (
    grantee    regrole NOT NULL,
    pattern    text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grantee, pattern)
);
COMMENT ON TABLE @extschema@.event_type_grants IS
    'Event type patterns granted to roles by grant_event_types(): a role with a grant (its own or inherited) sees and writes only the event types one of its patterns matches.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_type_grants', '');
REVOKE ALL ON @extschema@.event_type_grants FROM PUBLIC;

-- Every session drops its caches of a table when it changes (table_watch.c):
-- the schema registry, the signing keys, these grants.
CREATE FUNCTION @extschema@.schemas_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'candystore_schemas_changed'
    LANGUAGE C;
CREATE TRIGGER event_type_grants_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_type_grants
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();
ALTER TABLE @extschema@.event_type_grants ENABLE ALWAYS TRIGGER event_type_grants_invalidate_caches;

CREATE FUNCTION @extschema@.event_type_visible(event_type text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'candystore_event_type_visible'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.event_type_visible(text) IS
    'Whether the invoking role (the session''s or SET ROLE''s) may see and write events of this type.';
REVOKE ALL ON FUNCTION @extschema@.event_type_visible(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_visible(text) TO candystore_reader;

CREATE FUNCTION @extschema@.event_type_patterns() RETURNS text[]
    AS 'MODULE_PATHNAME', 'candystore_event_type_patterns'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.event_type_patterns() IS
    'The event type patterns the invoking role is restricted to (granted to it or to a role it inherits), or NULL when it is not restricted.';
REVOKE ALL ON FUNCTION @extschema@.event_type_patterns() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_patterns() TO candystore_reader;

CREATE FUNCTION @extschema@.event_type_pattern_matches(pattern text, event_type text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'candystore_event_type_pattern_matches'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.event_type_pattern_matches(text, text) IS
    'Whether the event type pattern matches the event type ("*" one dot-separated segment, "#" zero or more); raises 22023 for a malformed pattern.';
REVOKE ALL ON FUNCTION @extschema@.event_type_pattern_matches(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_pattern_matches(text, text) TO candystore_reader;

CREATE FUNCTION @extschema@.grant_event_types(role regrole, patterns text[]) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added integer;
BEGIN
    IF role IS NULL OR patterns IS NULL OR cardinality(patterns) = 0 OR array_position(patterns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'grant_event_types needs a role and at least one pattern, none of them NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- raises 22023 for a malformed pattern, before anything is granted
    PERFORM @extschema@.event_type_pattern_matches(p, 'x.y') FROM unnest(patterns) p;
    INSERT INTO @extschema@.event_type_grants (grantee, pattern)
    SELECT DISTINCT role, p FROM unnest(patterns) p
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END
$$;
COMMENT ON FUNCTION @extschema@.grant_event_types(regrole, text[]) IS
    'Lets the role (and the roles that inherit it) see and write the event types the patterns match; its first grant restricts it to its grants.  Returns how many patterns were new.';
REVOKE ALL ON FUNCTION @extschema@.grant_event_types(regrole, text[]) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_event_types(role regrole, patterns text[] DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed integer;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'revoke_event_types needs a role' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.event_type_pattern_matches(p, 'x.y') FROM unnest(patterns) p;
    DELETE FROM @extschema@.event_type_grants g
     WHERE g.grantee = role AND (patterns IS NULL OR g.pattern = ANY (patterns));
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_event_types(regrole, text[]) IS
    'Removes the role''s grants of these patterns (NULL: all of them); returns how many.  A role left with no grant (nor an inherited one) is no longer restricted.';
REVOKE ALL ON FUNCTION @extschema@.revoke_event_types(regrole, text[]) FROM PUBLIC;
