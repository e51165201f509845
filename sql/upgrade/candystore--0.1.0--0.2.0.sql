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

-- Hardening: every message gets a recorded outcome --------------------------
-- Dead letters keep the message's properties and event id, by which a
-- redelivery is recognised; one without either is recorded again, flagged.
-- (possible_redelivery gets its default after it is added, and its rows
-- their value by an UPDATE: a default given in ADD COLUMN would be kept as
-- a "missing value" no fresh install has.)
ALTER TABLE @extschema@.dead_letters
    ADD COLUMN properties jsonb,
    ADD COLUMN event_id text,
    ADD COLUMN possible_redelivery boolean;
ALTER TABLE @extschema@.dead_letters ALTER COLUMN possible_redelivery SET DEFAULT false;
UPDATE @extschema@.dead_letters SET possible_redelivery = false;
ALTER TABLE @extschema@.dead_letters ALTER COLUMN possible_redelivery SET NOT NULL;
