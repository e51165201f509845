
-- API tokens: bearer tokens of the HTTP API, each mapped to a role ----------------
-- candystore-http logs in as an authenticator role that is a member of
-- candystore_http (and of every role tokens map to), resolves a request's
-- token with api_token_role() as candystore_http, then runs the request's
-- query under SET LOCAL ROLE <the token's role>: PostgreSQL's privileges
-- decide what a token may do.  Only a token's SHA-256 digest is stored.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_http') THEN
        CREATE ROLE candystore_http NOLOGIN;
    END IF;
END
$roles$;
GRANT USAGE ON SCHEMA @extschema@ TO candystore_http;

CREATE TABLE @extschema@.api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_sha256  bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    role          name NOT NULL,
    note          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    name NOT NULL DEFAULT CURRENT_USER,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
COMMENT ON TABLE @extschema@.api_tokens IS
    'Bearer tokens of the HTTP API: the SHA-256 digest of each, the role it maps to, when it expires and whether it was revoked.  The tokens themselves are not stored.';
REVOKE ALL ON @extschema@.api_tokens FROM PUBLIC;
-- pg_dump keeps the tokens (their digests) and the id sequence.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_tokens', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.api_tokens', 'id'), '');

CREATE FUNCTION @extschema@.api_token_random() RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_api_token_random'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.api_token_random() IS
    'A new token: cs_ and 32 bytes of pg_strong_random() in unpadded base64url.';
REVOKE ALL ON FUNCTION @extschema@.api_token_random() FROM PUBLIC;

CREATE FUNCTION @extschema@.api_token_digest(token text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'candystore_api_token_digest'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.api_token_digest(text) IS
    'SHA-256 of the token''s bytes, as api_tokens.token_sha256 holds it.';
REVOKE ALL ON FUNCTION @extschema@.api_token_digest(text) FROM PUBLIC;

-- Runs with its caller's rights: only the extension owner and superusers
-- (who may insert into api_tokens) can create a token, whatever EXECUTE
-- grants someone adds.
CREATE FUNCTION @extschema@.create_api_token(role regrole, expires_at timestamptz, note text DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role_name name;
    role_is_superuser boolean;
    token text;
BEGIN
    IF create_api_token.role IS NULL THEN
        RAISE EXCEPTION 'the role of an API token must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF create_api_token.expires_at IS NULL THEN
        RAISE EXCEPTION 'an API token must have an expiry time'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass e.g. now() + interval ''90 days''; create a new token before it expires.';
    END IF;
    IF create_api_token.expires_at <= now() THEN
        RAISE EXCEPTION 'the expiry time of an API token must be in the future, not %', create_api_token.expires_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT r.rolname, r.rolsuper INTO role_name, role_is_superuser
      FROM pg_catalog.pg_roles r WHERE r.oid = create_api_token.role;
    IF role_is_superuser THEN
        RAISE EXCEPTION 'an API token cannot map to the superuser role "%"', role_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Map tokens to roles such as candystore_reader or candystore_writer, or roles granted them.';
    END IF;

    token := @extschema@.api_token_random();
    INSERT INTO @extschema@.api_tokens (token_sha256, role, note, expires_at)
    VALUES (@extschema@.api_token_digest(token), role_name, create_api_token.note, create_api_token.expires_at);
    RETURN token;
END
$$;
COMMENT ON FUNCTION @extschema@.create_api_token(regrole, timestamptz, text) IS
    'Creates a bearer token of the HTTP API that acts as role until expires_at, and returns it; only its SHA-256 digest is stored, so it is shown this once.  Superuser roles are refused.';
REVOKE ALL ON FUNCTION @extschema@.create_api_token(regrole, timestamptz, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_api_token(id bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.api_tokens t SET revoked_at = now()
     WHERE t.id = revoke_api_token.id AND t.revoked_at IS NULL;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_api_token(bigint) IS
    'Revokes the token with this id (see api_tokens_list): true when it was not revoked yet, false for a revoked or unknown id.  candystore-http stops accepting it within its cache time (10 s).';
REVOKE ALL ON FUNCTION @extschema@.revoke_api_token(bigint) FROM PUBLIC;

CREATE VIEW @extschema@.api_tokens_list AS
SELECT t.id, t.role, t.note, t.created_at, t.created_by, t.expires_at, t.revoked_at,
       CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
            WHEN t.expires_at <= now() THEN 'expired'
            ELSE 'active' END AS state
  FROM @extschema@.api_tokens t;
COMMENT ON VIEW @extschema@.api_tokens_list IS
    'The API tokens without their digests: role, note, who created each and when, expiry, revocation and state (active, expired or revoked).';
REVOKE ALL ON @extschema@.api_tokens_list FROM PUBLIC;

-- One index probe by the digest: the cost does not depend on how much of a
-- guess matches a real token.  Nothing is written (no last-used time): the
-- lookup then works on a hot standby and costs no WAL or row versions per
-- request; the server logs each request with its role instead.
CREATE FUNCTION @extschema@.api_token_role(token text) RETURNS name
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.rolname
      FROM @extschema@.api_tokens t
      JOIN pg_catalog.pg_roles r ON r.rolname = t.role
     WHERE t.token_sha256 = @extschema@.api_token_digest(api_token_role.token)
       AND t.revoked_at IS NULL
       AND t.expires_at > now()
       -- a role made superuser after the token was created is refused too
       AND NOT r.rolsuper
$$;
COMMENT ON FUNCTION @extschema@.api_token_role(text) IS
    'The role a bearer token of the HTTP API acts as; NULL for an unknown, expired or revoked token, or one whose role was dropped or made superuser.  For candystore-http''s authenticator, as candystore_http.';
REVOKE ALL ON FUNCTION @extschema@.api_token_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.api_token_role(text) TO candystore_http;
