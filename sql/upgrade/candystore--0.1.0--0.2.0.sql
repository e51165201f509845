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

-- Hardening: database faults are retried in place, commits are durable -------
-- worker_status() shows the last error's SQLSTATE and the worker's
-- synchronous_commit.
DROP FUNCTION @extschema@.worker_status();
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
