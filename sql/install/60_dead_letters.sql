
-- Ingest worker: dead letters, counters and status --------------------------------

CREATE TABLE @extschema@.dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    reason       text NOT NULL,
    sqlstate     text NOT NULL,
    routing_key  text,
    headers      jsonb,
    body         bytea NOT NULL,
    body_digest  bytea NOT NULL GENERATED ALWAYS AS (sha256(body)) STORED,
    redelivered  boolean NOT NULL DEFAULT false,
    -- redrive_dead_letters(): attempts so far; when one stored the message
    -- (or found it stored) and at which position
    redrive_attempts integer NOT NULL DEFAULT 0,
    redriven_at  timestamptz,
    position     bigint,
    -- the exchange and AMQP properties (message_id, content_type, ...) as
    -- received, text that is not valid escaped (\xNN, \\)
    properties   jsonb,
    -- the event id the body carries, as far as it could be read
    event_id     text,
    -- redelivered, without a message_id or event id to tell it from an
    -- identical letter recorded before: maybe the same message again
    possible_redelivery boolean NOT NULL DEFAULT false,
    -- consumed from the broker's dead-letter queue (SQLSTATE 58V01): RabbitMQ
    -- dead-lettered it (delivery limit, rejected, expired), with the
    -- x-death header it added, most recent first
    broker_dead_lettered boolean NOT NULL DEFAULT false,
    x_death      jsonb
);
COMMENT ON TABLE @extschema@.dead_letters IS
    'Messages the ingest worker could not store, with why, exactly as received.  Fix the cause, then candystore.redrive_dead_letters() stores those that now pass.';
CREATE INDEX dead_letters_received_at ON @extschema@.dead_letters (received_at);
-- a redelivered message already dead-lettered (same identity, body and
-- routing key) is not recorded twice
CREATE INDEX dead_letters_body_digest ON @extschema@.dead_letters (body_digest);
CREATE INDEX dead_letters_redriven_at ON @extschema@.dead_letters (redriven_at) WHERE redriven_at IS NOT NULL;
REVOKE ALL ON @extschema@.dead_letters FROM PUBLIC;
GRANT SELECT ON @extschema@.dead_letters TO candystore_reader;
GRANT DELETE ON @extschema@.dead_letters TO candystore_writer;
-- pg_dump keeps the dead letters and their id sequence.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.dead_letters', 'id'), '');

CREATE FUNCTION @extschema@.worker_stats(
    OUT delivered bigint, OUT stored bigint, OUT duplicates bigint,
    OUT dead_lettered bigint, OUT redelivered bigint, OUT batches bigint,
    OUT reconnects bigint)
    AS 'MODULE_PATHNAME', 'candystore_worker_stats'
    LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.worker_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.worker_stats() TO candystore_reader;

CREATE VIEW @extschema@.stats AS SELECT * FROM @extschema@.worker_stats();
COMMENT ON VIEW @extschema@.stats IS
    'Ingest worker counters since server start (shared memory; zero when candystore is not in shared_preload_libraries).';
REVOKE ALL ON @extschema@.stats FROM PUBLIC;
GRANT SELECT ON @extschema@.stats TO candystore_reader;

CREATE FUNCTION @extschema@.worker_status(
    OUT worker int, OUT pid int, OUT state text, OUT broker text,
    OUT connected_since timestamptz, OUT last_error text, OUT last_error_at timestamptz,
    OUT kind text, OUT last_sqlstate text, OUT synchronous_commit text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'candystore_worker_status'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.worker_status() IS
    'Each ingest worker, then the outbox publisher (kind ingest or publisher): state, broker, connected since, last error (and its SQLSTATE when the database raised it), and the synchronous_commit its transactions commit with.';
REVOKE ALL ON FUNCTION @extschema@.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.worker_status() TO candystore_reader;

-- Redriving dead letters --------------------------------------------------------
-- Once the cause is fixed (a schema corrected, a producer's bug understood),
-- dead letters go through append again, each in its own subtransaction so
-- that one that still fails keeps its row, with the new reason, and does not
-- undo the others.

CREATE FUNCTION @extschema@.redrive_dead_letters(ids bigint[] DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    letter   record;
    stored   bigint;
    resolved bigint := 0;
    state    text;
    message  text;
    detail   text;
BEGIN
    FOR letter IN
        SELECT d.id, d.body, d.routing_key
          FROM @extschema@.dead_letters d
         WHERE d.redriven_at IS NULL
           AND (redrive_dead_letters.ids IS NULL OR d.id = ANY (redrive_dead_letters.ids))
         ORDER BY d.id
         -- a concurrent redrive takes the others
           FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            -- the body is read as the worker reads it: text in the database encoding
            stored := @extschema@.append(convert_from(letter.body, getdatabaseencoding())::jsonb,
                                         letter.routing_key);
            UPDATE @extschema@.dead_letters
               SET redrive_attempts = redrive_attempts + 1, redriven_at = now(), position = stored
             WHERE id = letter.id;
            resolved := resolved + 1;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
            -- what the worker dead-letters; any other error aborts the redrive
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                    detail = PG_EXCEPTION_DETAIL;
            UPDATE @extschema@.dead_letters
               SET redrive_attempts = redrive_attempts + 1,
                   reason = message || coalesce(': ' || nullif(detail, ''), ''),
                   sqlstate = state
             WHERE id = letter.id;
        END;
    END LOOP;
    RETURN resolved;
END
$$;
COMMENT ON FUNCTION @extschema@.redrive_dead_letters(bigint[]) IS
    'Appends the dead letters not yet redriven (all, or those with the ids given) again; those that now pass (or are found already stored) are marked redriven with their position, the rest keep their row with the new reason.  Returns how many were resolved.';
REVOKE ALL ON FUNCTION @extschema@.redrive_dead_letters(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.redrive_dead_letters(bigint[]) TO candystore_writer;

CREATE FUNCTION @extschema@.prune_dead_letters(older_than interval DEFAULT '7 days') RETURNS bigint
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint;
BEGIN
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, not %', older_than
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- only redriven letters: the others still wait for their cause to be fixed
    DELETE FROM @extschema@.dead_letters
     WHERE redriven_at < now() - prune_dead_letters.older_than;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION @extschema@.prune_dead_letters(interval) IS
    'Deletes the dead letters that were redriven more than older_than ago; returns how many.  Those never redriven stay.';
REVOKE ALL ON FUNCTION @extschema@.prune_dead_letters(interval) FROM PUBLIC;

-- Loud dead letters ---------------------------------------------------------------
-- Every dead letter, whoever records it, sends NOTIFY candystore_dead_letter
-- and writes one LOG line at commit, rate-limited (src/dead_letter_alert.c):
-- the ingest worker's inserts, and redrive_dead_letters() finding that a
-- letter still fails.

CREATE FUNCTION @extschema@.dead_letter_alert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'candystore_dead_letter_alert'
    LANGUAGE C;
REVOKE ALL ON FUNCTION @extschema@.dead_letter_alert() FROM PUBLIC;
CREATE TRIGGER dead_letters_alert_insert
    AFTER INSERT ON @extschema@.dead_letters
    FOR EACH ROW EXECUTE FUNCTION @extschema@.dead_letter_alert();
CREATE TRIGGER dead_letters_alert_redrive
    AFTER UPDATE OF redrive_attempts ON @extschema@.dead_letters
    FOR EACH ROW
    WHEN (NEW.redrive_attempts > OLD.redrive_attempts AND NEW.redriven_at IS NULL)
    EXECUTE FUNCTION @extschema@.dead_letter_alert();
