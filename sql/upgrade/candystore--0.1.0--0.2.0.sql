-- candystore 0.1.0 -> 0.2.0.  ALTER EXTENSION candystore UPDATE runs this
-- script on an installation of 0.1.0; afterwards its catalog must equal a
-- fresh CREATE EXTENSION of 0.2.0 (t/upgrade_from_0_1_0.pl compares them).
-- Every change of the SQL surface in sql/install/ is repeated here, in the
-- section of its concern.
\echo Use "ALTER EXTENSION candystore UPDATE TO '0.2.0'" to load this file. \quit
