
-- Signed events ------------------------------------------------------------------
-- An envelope may carry "signature": {"alg", "key_id", "value"} over the
-- RFC 8785 canonical form of the rest of the envelope (src/signing.c).  Keys
-- are registered here; candystore.require_signatures names the event types
-- that must be signed.  Secrets (HMAC keys, Ed25519 seeds) are in a table of
-- their own that only the owner can read.

CREATE TABLE @extschema@.signing_keys (
    key_id        text PRIMARY KEY CHECK (octet_length(key_id) BETWEEN 1 AND 200),
    alg           text NOT NULL CHECK (alg IN ('ed25519', 'hmac-sha256')),
    -- Ed25519: the 32-byte public key; HMAC keys are secret, their row has none
    public_key    bytea CHECK (CASE alg WHEN 'ed25519' THEN octet_length(public_key) = 32
                                        ELSE public_key IS NULL END),
    valid_from    timestamptz NOT NULL DEFAULT now(),
    valid_until   timestamptz CHECK (valid_until > valid_from),
    revoked_at    timestamptz,
    registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.signing_keys IS
    'Keys that sign events: a signature verifies only with a key valid (valid_from <= t < valid_until) and not revoked (t < revoked_at) at the time of verification.  register_signing_key() and revoke_signing_key() change it.';
REVOKE ALL ON @extschema@.signing_keys FROM PUBLIC;
GRANT SELECT ON @extschema@.signing_keys TO candystore_reader;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.signing_keys', '');

CREATE TABLE @extschema@.signing_secrets (
    key_id text PRIMARY KEY REFERENCES @extschema@.signing_keys,
    secret bytea NOT NULL CHECK (octet_length(secret) >= 16)
);
COMMENT ON TABLE @extschema@.signing_secrets IS
    'The secret of each signing key that has one (the HMAC key, the 32-byte Ed25519 seed).  Only the owner can read it; verification and signing read it as the owner.';
REVOKE ALL ON @extschema@.signing_secrets FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.signing_secrets', '');

CREATE FUNCTION @extschema@.ed25519_public_key(seed bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'candystore_ed25519_public_key'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION @extschema@.ed25519_public_key(bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@.register_signing_key(
    key_id text, alg text, public_key bytea DEFAULT NULL, secret bytea DEFAULT NULL,
    valid_from timestamptz DEFAULT now(), valid_until timestamptz DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF alg = 'ed25519' THEN
        IF public_key IS NULL AND secret IS NULL THEN
            RAISE EXCEPTION 'an Ed25519 key needs its public key, or its 32-byte seed'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF secret IS NOT NULL THEN
            IF public_key IS NOT NULL AND public_key <> @extschema@.ed25519_public_key(secret) THEN
                RAISE EXCEPTION 'the public key of Ed25519 key "%" is not the one of its seed', key_id
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            public_key := @extschema@.ed25519_public_key(secret);
        END IF;
    ELSIF alg = 'hmac-sha256' THEN
        IF secret IS NULL OR public_key IS NOT NULL THEN
            RAISE EXCEPTION 'an HMAC-SHA256 key has a secret and no public key'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give secret => at least 16 random bytes (32 recommended), shared with the producer.';
        END IF;
    ELSE
        RAISE EXCEPTION 'unknown signature algorithm "%"', alg
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''ed25519'' or ''hmac-sha256''.';
    END IF;
    INSERT INTO @extschema@.signing_keys (key_id, alg, public_key, valid_from, valid_until)
    VALUES (register_signing_key.key_id, register_signing_key.alg, register_signing_key.public_key,
            coalesce(register_signing_key.valid_from, now()), register_signing_key.valid_until);
    IF secret IS NOT NULL THEN
        INSERT INTO @extschema@.signing_secrets (key_id, secret)
        VALUES (register_signing_key.key_id, register_signing_key.secret);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.register_signing_key(text, text, bytea, bytea, timestamptz, timestamptz) IS
    'Registers a signing key: ed25519 with its public key (verify only) or its 32-byte seed (sign too), or hmac-sha256 with its shared secret; valid from valid_from until valid_until (NULL: open).  Rotate by registering a new key_id and letting the old one expire.';
REVOKE ALL ON FUNCTION @extschema@.register_signing_key(text, text, bytea, bytea, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_signing_key(key_id text, revoked_at timestamptz DEFAULT now()) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.signing_keys k
       SET revoked_at = least(coalesce(k.revoked_at, 'infinity'), coalesce(revoke_signing_key.revoked_at, now()))
     WHERE k.key_id = revoke_signing_key.key_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no signing key "%"', key_id USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_signing_key(text, timestamptz) IS
    'Revokes a key from revoked_at on (default now; an earlier revocation stays): signatures with it no longer verify at or after that time.';
REVOKE ALL ON FUNCTION @extschema@.revoke_signing_key(text, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.jcs_canonicalize(value jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_jcs_canonicalize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jcs_canonicalize(jsonb) IS
    'The RFC 8785 (JCS) canonical form of the value; raises 22003 for a number no IEEE double holds exactly.';
REVOKE ALL ON FUNCTION @extschema@.jcs_canonicalize(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.jcs_canonicalize(jsonb) TO candystore_reader;

CREATE FUNCTION @extschema@.verify_event_signature(envelope jsonb, at timestamptz DEFAULT now()) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_verify_event_signature'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.verify_event_signature(jsonb, timestamptz) IS
    'Verifies the envelope''s signature with the keys as they are valid at "at": valid, unsigned, malformed, not_canonical, unknown_key, wrong_algorithm, key_not_yet_valid, key_expired, key_revoked or bad_signature.';
REVOKE ALL ON FUNCTION @extschema@.verify_event_signature(jsonb, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.verify_event_signature(jsonb, timestamptz) TO candystore_reader;

CREATE FUNCTION @extschema@.sign_envelope(envelope jsonb, key_id text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'candystore_sign_envelope'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.sign_envelope(jsonb, text) IS
    'The envelope with its "signature" made (or replaced) with the key, which must have its secret registered and be valid now.';
REVOKE ALL ON FUNCTION @extschema@.sign_envelope(jsonb, text) FROM PUBLIC;

-- Every session drops its cached keys when either table changes (a
-- registration, a revocation), also in replica mode.
CREATE TRIGGER signing_keys_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();
ALTER TABLE @extschema@.signing_keys ENABLE ALWAYS TRIGGER signing_keys_invalidate_caches;
CREATE TRIGGER signing_secrets_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.signing_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();
ALTER TABLE @extschema@.signing_secrets ENABLE ALWAYS TRIGGER signing_secrets_invalidate_caches;
