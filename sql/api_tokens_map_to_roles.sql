-- Bearer tokens of the HTTP API: created once by the owner, stored only as
-- their SHA-256 digest, each mapped to a role; the authenticator resolves
-- them as candystore_http; unknown, expired, revoked tokens and tokens of
-- dropped or superuser roles resolve to nothing.
\i sql/helpers/expect_error.sql
CREATE ROLE regress_tok_reader IN ROLE candystore_reader;
CREATE ROLE regress_tok_writer IN ROLE candystore_writer;
CREATE ROLE regress_tok_super SUPERUSER;
-- the login role candystore-http uses, as docs/reference.md tells operators
-- to create it
CREATE ROLE regress_tok_authenticator LOGIN NOINHERIT IN ROLE candystore_http;
GRANT regress_tok_reader, regress_tok_writer TO regress_tok_authenticator;

SELECT candystore.create_api_token('regress_tok_reader', now() + interval '1 day', 'dashboard') AS reader_token \gset
SELECT candystore.create_api_token('regress_tok_writer', now() + interval '1 hour') AS writer_token \gset

-- the token: cs_ and 43 base64url characters (32 random bytes)
SELECT :'reader_token' ~ '^cs_[A-Za-z0-9_-]{43}$' AS reader_token_well_formed,
       :'writer_token' ~ '^cs_[A-Za-z0-9_-]{43}$' AS writer_token_well_formed,
       :'reader_token' <> :'writer_token' AS tokens_differ;
-- only the digest is stored: the token appears in no column
SELECT count(*) AS rows_holding_the_token
  FROM candystore.api_tokens t
 WHERE t::text LIKE '%' || :'reader_token' || '%'
    OR t::text LIKE '%' || substr(:'reader_token', 4) || '%';
SELECT token_sha256 = sha256(convert_to(:'reader_token', 'UTF8')) AS stored_as_sha256,
       role, note, created_by = current_user AS created_by_me,
       expires_at > now() + interval '23 hours' AS expires_tomorrow, revoked_at
  FROM candystore.api_tokens WHERE role = 'regress_tok_reader';
-- a thousand tokens, no two alike
SELECT count(DISTINCT candystore.api_token_random()) AS distinct_of_1000 FROM generate_series(1, 1000);

-- the list shows everything but the digests
SELECT role, note, state FROM candystore.api_tokens_list ORDER BY id;
SELECT count(*) AS digest_columns_in_list
  FROM information_schema.columns
 WHERE table_schema = 'candystore' AND table_name = 'api_tokens_list' AND column_name LIKE '%sha%';

-- each token resolves to its role; anything else to NULL
SELECT candystore.api_token_role(:'reader_token') AS reader,
       candystore.api_token_role(:'writer_token') AS writer,
       candystore.api_token_role('cs_' || repeat('A', 43)) AS unknown,
       candystore.api_token_role(upper(:'reader_token')) AS case_changed,
       candystore.api_token_role(substr(:'reader_token', 4)) AS without_prefix,
       candystore.api_token_role(:'reader_token' || ' ') AS trailing_space,
       candystore.api_token_role('') AS empty,
       candystore.api_token_role(NULL) AS null_token,
       candystore.api_token_role(repeat('x', 100000)) AS huge,
       candystore.api_token_role(E'cs_\u00e9\u00e8') AS non_ascii;

-- refusals: a superuser role, no expiry, an expiry in the past, no role, an
-- unknown role; none stores anything (the time in the message is elided)
SELECT count(*) AS tokens_before FROM candystore.api_tokens \gset
SELECT regexp_replace(pg_temp.expect_error(s), 'future, not .*', 'future, not <the time given>') AS outcome
  FROM (VALUES
    ($$SELECT candystore.create_api_token('regress_tok_super', now() + interval '1 day')$$),
    ($$SELECT candystore.create_api_token('regress_tok_reader', NULL)$$),
    ($$SELECT candystore.create_api_token('regress_tok_reader', now() - interval '1 second')$$),
    ($$SELECT candystore.create_api_token('regress_tok_reader', now())$$),
    ($$SELECT candystore.create_api_token(NULL, now() + interval '1 day')$$),
    ($$SELECT candystore.create_api_token('regress_tok_nobody', now() + interval '1 day')$$)) AS a(s);
SELECT count(*) = :tokens_before AS nothing_stored FROM candystore.api_tokens;

-- the authenticator (NOINHERIT) calls api_token_role as candystore_http,
-- then acts as the token's role: a reader token reads, and cannot append
SET SESSION AUTHORIZATION regress_tok_authenticator;
SELECT pg_temp.expect_error($$SELECT candystore.api_token_role('x')$$) AS without_set_role;
BEGIN;
SET LOCAL ROLE candystore_http;
SELECT candystore.api_token_role(:'reader_token') AS token_role \gset
SELECT pg_temp.expect_error($$SELECT count(*) FROM candystore.api_tokens$$) AS http_reads_tokens,
       pg_temp.expect_error($$SELECT count(*) FROM candystore.api_tokens_list$$) AS http_lists_tokens,
       pg_temp.expect_error($$SELECT candystore.create_api_token('regress_tok_reader', now() + interval '1 day')$$) AS http_creates_token,
       pg_temp.expect_error($$SELECT candystore.revoke_api_token(1)$$) AS http_revokes_token,
       pg_temp.expect_error($$SELECT count(*) FROM candystore.events$$) AS http_reads_events;
COMMIT;
BEGIN;
SELECT format('SET LOCAL ROLE %I', :'token_role') \gexec
SELECT current_user,
       pg_temp.expect_error($$SELECT count(*) FROM candystore.events$$) AS reads_events,
       pg_temp.expect_error($$SELECT candystore.append(pg_temp.sample_envelope('e9000000-0000-4000-8000-000000000001'))$$) AS appends,
       pg_temp.expect_error($$SELECT candystore.api_token_role('x')$$) AS resolves_tokens,
       pg_temp.expect_error($$SELECT candystore.create_api_token('regress_tok_writer', now() + interval '1 day')$$) AS creates_tokens;
COMMIT;
RESET SESSION AUTHORIZATION;

-- a reader or writer member may not create, revoke or list tokens, nor
-- resolve them
SET ROLE regress_tok_writer;
SELECT pg_temp.expect_error($$SELECT candystore.create_api_token('regress_tok_writer', now() + interval '1 day')$$) AS creates,
       pg_temp.expect_error($$SELECT candystore.revoke_api_token(1)$$) AS revokes,
       pg_temp.expect_error($$SELECT * FROM candystore.api_tokens_list$$) AS lists,
       pg_temp.expect_error($$SELECT candystore.api_token_role('x')$$) AS resolves;
RESET ROLE;
-- not even when someone grants EXECUTE: create_api_token runs with its
-- caller's rights
GRANT EXECUTE ON FUNCTION candystore.create_api_token(regrole, timestamptz, text) TO regress_tok_writer;
SET ROLE regress_tok_writer;
SELECT pg_temp.expect_error($$SELECT candystore.create_api_token('regress_tok_writer', now() + interval '1 day')$$) AS creates_with_execute_granted;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION candystore.create_api_token(regrole, timestamptz, text) FROM regress_tok_writer;

-- revoking: true once, then false; an unknown id is false; the token stops
-- resolving and the list says so
SELECT id AS writer_token_id FROM candystore.api_tokens_list WHERE role = 'regress_tok_writer' \gset
SELECT candystore.revoke_api_token(:writer_token_id) AS revoked,
       candystore.revoke_api_token(:writer_token_id) AS revoked_again,
       candystore.revoke_api_token(-1) AS unknown_id;
SELECT candystore.api_token_role(:'writer_token') AS revoked_token,
       (SELECT state FROM candystore.api_tokens_list WHERE id = :writer_token_id) AS state;

-- an expired token resolves to nothing
SELECT candystore.create_api_token('regress_tok_reader', now() + interval '1 second', 'short-lived') AS short_token \gset
UPDATE candystore.api_tokens SET expires_at = now() - interval '1 second' WHERE note = 'short-lived';
SELECT candystore.api_token_role(:'short_token') AS expired_token,
       (SELECT state FROM candystore.api_tokens_list WHERE note = 'short-lived') AS state;

-- a role made superuser after its token was created is refused; a dropped
-- role's token resolves to nothing
ALTER ROLE regress_tok_reader SUPERUSER;
SELECT candystore.api_token_role(:'reader_token') AS token_of_a_role_made_superuser;
ALTER ROLE regress_tok_reader NOSUPERUSER;
SELECT candystore.api_token_role(:'reader_token') AS token_of_the_role_again;
CREATE ROLE regress_tok_temporary;
SELECT candystore.create_api_token('regress_tok_temporary', now() + interval '1 day') AS temporary_token \gset
DROP ROLE regress_tok_temporary;
SELECT candystore.api_token_role(:'temporary_token') AS token_of_a_dropped_role;

-- the lookup is one probe of the digest's unique index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT 1 FROM candystore.api_tokens
 WHERE token_sha256 = candystore.api_token_digest('cs_x') AND revoked_at IS NULL AND expires_at > now();
RESET enable_seqscan;

-- pg_dump keeps the tokens and their id sequence
SELECT c.relname
  FROM pg_extension e, unnest(e.extconfig) AS x(oid) JOIN pg_class c ON c.oid = x.oid
 WHERE e.extname = 'candystore' AND c.relname LIKE 'api_tokens%'
 ORDER BY 1;

-- who may do what, from the catalogs
SELECT r AS role,
       has_function_privilege(r, 'candystore.create_api_token(regrole, timestamptz, text)', 'EXECUTE') AS create_token,
       has_function_privilege(r, 'candystore.revoke_api_token(bigint)', 'EXECUTE') AS revoke_token,
       has_function_privilege(r, 'candystore.api_token_role(text)', 'EXECUTE') AS resolve_token,
       has_table_privilege(r, 'candystore.api_tokens', 'SELECT') AS read_tokens
  FROM unnest(ARRAY['candystore_http', 'candystore_reader', 'candystore_writer', 'regress_tok_authenticator']) AS r
 ORDER BY r;

DELETE FROM candystore.api_tokens;
DROP ROLE regress_tok_authenticator, regress_tok_reader, regress_tok_writer, regress_tok_super;
