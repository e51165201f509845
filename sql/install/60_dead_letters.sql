
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
    redelivered  boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE @extschema@.dead_letters IS
    'Messages the ingest worker could not store, with why, exactly as received.  Fix the cause, then re-append with candystore.append(convert_from(body, ''UTF8'')::jsonb, routing_key) and delete the row.';
CREATE INDEX dead_letters_received_at ON @extschema@.dead_letters (received_at);
-- a redelivered message already dead-lettered is not recorded twice
CREATE INDEX dead_letters_body_digest ON @extschema@.dead_letters (body_digest);
REVOKE ALL ON @extschema@.dead_letters FROM PUBLIC;
GRANT SELECT ON @extschema@.dead_letters TO candystore_reader;
GRANT DELETE ON @extschema@.dead_letters TO candystore_writer;

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
    OUT kind text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'candystore_worker_status'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.worker_status() IS
    'Each ingest worker, then the outbox publisher (kind ingest or publisher): state, broker, connected since, last error.';
REVOKE ALL ON FUNCTION @extschema@.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.worker_status() TO candystore_reader;
