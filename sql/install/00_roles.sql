-- candystore install script, assembled from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION candystore" to load this file. \quit

-- Roles ---------------------------------------------------------------------
-- candystore_reader reads events and calls the query functions;
-- candystore_writer may also append.  Neither can change or remove events.
-- Roles belong to the cluster, so a second database reuses them, and DROP
-- EXTENSION leaves them in place.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_reader') THEN
        CREATE ROLE candystore_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_writer') THEN
        CREATE ROLE candystore_writer NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('candystore_writer', 'candystore_reader', 'MEMBER') THEN
        GRANT candystore_reader TO candystore_writer;
    END IF;
END
$roles$;

GRANT USAGE ON SCHEMA @extschema@ TO candystore_reader;
