-- Signed events: an envelope signed with a registered key (HMAC-SHA256 or
-- Ed25519) verifies; a tampered one, or one signed with an unknown, expired,
-- not yet valid or revoked key does not.  With candystore.require_signatures
-- naming its type, append() and append_many() refuse such an event (and an
-- unsigned one) with SQLSTATE 22V08 and store nothing; other types are not
-- checked.  Readers see the keys, never the secrets.
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.env(n int, type text DEFAULT 'regress.signed.thing') RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(pg_temp.sample_envelope(('5160e000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid),
                               '{event_type}', to_jsonb(type)),
                     '{payload}', '{"amount": 4.50, "note": "caf\u00e9 \ud83d\ude00", "z": [1e30, true, null]}')
$$;
CREATE FUNCTION pg_temp.stored(n int) RETURNS boolean LANGUAGE sql AS $$
    SELECT EXISTS (SELECT FROM candystore.events
                    WHERE event_id = ('5160e000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid)
$$;

-- the canonical form: keys by UTF-16 code units, numbers as ECMAScript writes them
SELECT candystore.jcs_canonicalize(pg_temp.env(0) - 'source' - 'correlation_ids' - 'agent_context');

-- keys: an HMAC secret, an Ed25519 seed (sign and verify), an Ed25519 public
-- key only, one expired, one not yet valid, one to revoke
SELECT candystore.register_signing_key('regress-hmac', 'hmac-sha256', secret => decode(repeat('ab', 32), 'hex'));
SELECT candystore.register_signing_key('regress-ed', 'ed25519', secret => decode(repeat('01', 32), 'hex'));
SELECT candystore.register_signing_key('regress-ed-public', 'ed25519',
           public_key => candystore.ed25519_public_key(decode(repeat('01', 32), 'hex')));
SELECT candystore.register_signing_key('regress-old', 'hmac-sha256', secret => decode(repeat('cd', 32), 'hex'),
           valid_from => now() - interval '2 days', valid_until => now() - interval '1 day');
SELECT candystore.register_signing_key('regress-future', 'hmac-sha256', secret => decode(repeat('ef', 32), 'hex'),
           valid_from => now() + interval '1 day');
SELECT candystore.register_signing_key('regress-revoked', 'ed25519', secret => decode(repeat('02', 32), 'hex'),
           valid_from => now() - interval '1 day');
SELECT key_id, alg, octet_length(public_key) AS public_key_bytes, valid_until IS NOT NULL AS expires
  FROM candystore.signing_keys ORDER BY key_id;
-- registration refuses what cannot be a key
SELECT pg_temp.expect_error($$SELECT candystore.register_signing_key('regress-hmac', 'hmac-sha256', secret => decode(repeat('ab', 32), 'hex'))$$) AS again,
       pg_temp.expect_error($$SELECT candystore.register_signing_key('x', 'rsa', secret => '\x00')$$) AS rsa,
       pg_temp.expect_error($$SELECT candystore.register_signing_key('x', 'hmac-sha256')$$) AS no_secret,
       pg_temp.expect_error($$SELECT candystore.register_signing_key('x', 'hmac-sha256', secret => '\x0102')$$) AS short_secret,
       pg_temp.expect_error($$SELECT candystore.register_signing_key('x', 'ed25519', public_key => '\x0102')$$) AS short_public,
       pg_temp.expect_error($$SELECT candystore.register_signing_key('x', 'ed25519', public_key => decode(repeat('00', 32), 'hex'), secret => decode(repeat('01', 32), 'hex'))$$) AS mismatch;

-- signatures: the signature object stored in the envelope (the interop TAP
-- test checks the same bytes against Python and Node)
SELECT candystore.sign_envelope(pg_temp.env(1), 'regress-hmac')->'signature' AS hmac_signature;
SELECT candystore.sign_envelope(pg_temp.env(1), 'regress-ed')->'signature' AS ed25519_signature;
-- signing again replaces the signature; signing is deterministic for both algorithms
SELECT candystore.sign_envelope(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), 'regress-ed')
     = candystore.sign_envelope(pg_temp.env(1), 'regress-ed') AS resigned_same;

SELECT what, candystore.verify_event_signature(e) AS status
  FROM (VALUES
    ('hmac', candystore.sign_envelope(pg_temp.env(1), 'regress-hmac')),
    ('ed25519', candystore.sign_envelope(pg_temp.env(1), 'regress-ed')),
    ('ed25519 by its public key', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-ed'),
                                            '{signature,key_id}', '"regress-ed-public"')),
    ('key order and spacing do not matter', (candystore.sign_envelope(pg_temp.env(1), 'regress-hmac')::text)::jsonb),
    ('payload tampered', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{payload,amount}', '4.51')),
    ('type tampered', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-ed'), '{event_type}', '"regress.signed.other"')),
    ('member added', candystore.sign_envelope(pg_temp.env(1), 'regress-ed') || '{"extra": 1}'),
    ('signature of another key', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{signature,key_id}', '"regress-old"')),
    ('unknown key', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{signature,key_id}', '"regress-nobody"')),
    ('wrong algorithm', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{signature,key_id}', '"regress-ed-public"')),
    ('unsigned', pg_temp.env(1)),
    ('signature not an object', pg_temp.env(1) || '{"signature": "abc"}'),
    ('value not base64url', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{signature,value}', '"a+b/"')),
    ('value with padding', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{signature,value}',
        to_jsonb((candystore.sign_envelope(pg_temp.env(1), 'regress-hmac')#>>'{signature,value}') || '='))),
    ('extra member in signature', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{signature,extra}', '1')),
    ('unknown alg', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{signature,alg}', '"rsa"')),
    ('number beyond doubles', jsonb_set(candystore.sign_envelope(pg_temp.env(1), 'regress-hmac'), '{payload,amount}', '12345678901234567890')),
    ('not an object', '[1]'::jsonb)) AS t(what, e);

-- validity periods: a signature verifies as of a time the key is valid
SELECT pg_temp.expect_error($$SELECT candystore.sign_envelope(pg_temp.env(1), 'regress-old')$$) AS sign_expired,
       pg_temp.expect_error($$SELECT candystore.sign_envelope(pg_temp.env(1), 'regress-ed-public')$$) AS sign_public_only,
       pg_temp.expect_error($$SELECT candystore.sign_envelope(pg_temp.env(1), 'regress-nobody')$$) AS sign_unknown;
SELECT candystore.sign_envelope(pg_temp.env(2), 'regress-revoked') AS revoked_env \gset
SELECT candystore.verify_event_signature(:'revoked_env') AS before_revocation;
SELECT candystore.revoke_signing_key('regress-revoked');
SELECT candystore.verify_event_signature(:'revoked_env') AS after_revocation,
       candystore.verify_event_signature(:'revoked_env', now() - interval '1 hour') AS as_of_before;
SELECT pg_temp.expect_error($$SELECT candystore.revoke_signing_key('regress-nobody')$$) AS revoke_unknown;
-- an expired key's signature, made while it was valid: forged here by
-- registering the same secret under a current key id, then renaming
SELECT candystore.register_signing_key('regress-old-twin', 'hmac-sha256', secret => decode(repeat('cd', 32), 'hex'));
SELECT jsonb_set(candystore.sign_envelope(pg_temp.env(3), 'regress-old-twin'), '{signature,key_id}', '"regress-old"') AS expired_env \gset
SELECT jsonb_set(candystore.sign_envelope(pg_temp.env(4), 'regress-old-twin'), '{signature,key_id}', '"regress-future"') AS future_env \gset
SELECT candystore.verify_event_signature(:'expired_env') AS expired_now,
       candystore.verify_event_signature(:'expired_env', now() - interval '36 hours') AS while_valid,
       candystore.verify_event_signature(:'future_env') AS not_yet_valid;

-- nothing is required: every event is stored as before
SHOW candystore.require_signatures;
SELECT candystore.append(pg_temp.env(10)) > 0 AS unsigned_stored_when_not_required;

-- required for regress.signed.*: only valid signatures are stored
SET candystore.require_signatures = 'regress.signed.*, other.exact.type';
SELECT n, what, pg_temp.expect_error(format('SELECT candystore.append(%L)', e)) AS append, pg_temp.stored(n) AS stored
  FROM (VALUES
    (11, 'hmac', candystore.sign_envelope(pg_temp.env(11), 'regress-hmac')),
    (12, 'ed25519', candystore.sign_envelope(pg_temp.env(12), 'regress-ed')),
    (13, 'unsigned', pg_temp.env(13)),
    (14, 'tampered', jsonb_set(candystore.sign_envelope(pg_temp.env(14), 'regress-hmac'), '{payload,note}', '"changed"')),
    (15, 'unknown key', jsonb_set(candystore.sign_envelope(pg_temp.env(15), 'regress-hmac'), '{signature,key_id}', '"regress-nobody"')),
    (2, 'revoked', :'revoked_env'::jsonb),
    (17, 'unsigned, type not required', pg_temp.env(17, 'regress.unsigned.thing'))) AS t(n, what, e)
 ORDER BY n;
SELECT pg_temp.expect_error(format('SELECT candystore.append(%L)', :'expired_env')) AS expired;
-- the error in full
SELECT candystore.append(jsonb_set(candystore.sign_envelope(pg_temp.env(18), 'regress-hmac'), '{payload,note}', '"changed"'));
-- append_many: one refused envelope refuses the batch, naming it
SELECT pg_temp.expect_error(format('SELECT count(*) FROM candystore.append_many(ARRAY[%L, %L]::jsonb[])',
           candystore.sign_envelope(pg_temp.env(19), 'regress-ed'), pg_temp.env(20))) AS batch_with_unsigned,
       pg_temp.stored(19) AS first_stored;
SELECT ordinality, outcome FROM candystore.append_many(ARRAY[
           candystore.sign_envelope(pg_temp.env(19), 'regress-ed'),
           candystore.sign_envelope(pg_temp.env(20), 'regress-hmac'),
           candystore.sign_envelope(pg_temp.env(11), 'regress-hmac')]);
-- the signature is stored with the event: it verifies again from the log
SELECT count(*) AS stored_signed, count(*) FILTER (WHERE candystore.verify_event_signature(envelope) = 'valid') AS verify_again
  FROM candystore.events WHERE envelope ? 'signature';
-- the setting's patterns are checked
SELECT pg_temp.expect_error($$SET candystore.require_signatures = 'Fireflies.*'$$) AS bad_pattern;
RESET candystore.require_signatures;

-- publish() signs with candystore.outbox_signing_key what it enqueues
SET candystore.outbox_signing_key = 'regress-ed';
SELECT candystore.publish(pg_temp.env(30)) > 0 AS published;
SELECT envelope->'signature'->>'key_id' AS key_id, candystore.verify_event_signature(envelope) AS status
  FROM candystore.events WHERE event_id = '5160e000-0000-4000-8000-000000000030';
RESET candystore.outbox_signing_key;

-- a writer: cannot read secrets, register keys or sign, nor lower the requirement
CREATE ROLE regress_signing_writer IN ROLE candystore_writer;
SET ROLE regress_signing_writer;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.signing_secrets$$) AS read_secrets,
       pg_temp.expect_error($$SELECT candystore.register_signing_key('w', 'hmac-sha256', secret => decode(repeat('ab', 32), 'hex'))$$) AS register,
       pg_temp.expect_error($$SELECT candystore.sign_envelope('{}', 'regress-hmac')$$) AS sign,
       pg_temp.expect_error($$SELECT candystore.revoke_signing_key('regress-hmac')$$) AS revoke,
       pg_temp.expect_error($$SET candystore.require_signatures = ''$$) AS lower_requirement,
       pg_temp.expect_error($$SET candystore.outbox_signing_key = 'regress-ed'$$) AS choose_key;
SELECT count(*) > 0 AS reads_keys FROM candystore.signing_keys;
SELECT candystore.verify_event_signature(candystore_sign) AS writer_verifies_hmac
  FROM (SELECT envelope AS candystore_sign FROM candystore.events
         WHERE event_id = '5160e000-0000-4000-8000-000000000011') s;
RESET ROLE;
DROP ROLE regress_signing_writer;
