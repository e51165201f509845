-- Subtransactions (savepoints, PL/pgSQL EXCEPTION blocks) leave nothing in
-- the transaction's memory once they end: a loop of 100000 of them in one
-- transaction must not grow it by megabytes (found by the fuzz targets,
-- which run each input in a subtransaction).
CREATE FUNCTION pg_temp.top_transaction_bytes() RETURNS bigint LANGUAGE sql AS
$$ SELECT total_bytes FROM pg_backend_memory_contexts WHERE name = 'TopTransactionContext' $$;

DO $$
DECLARE
    before bigint := pg_temp.top_transaction_bytes();
BEGIN
    FOR i IN 1..100000 LOOP
        BEGIN
            PERFORM 1 / (i % 2);    -- every other one fails and rolls back
        EXCEPTION WHEN division_by_zero THEN
            NULL;
        END;
    END LOOP;
    RAISE NOTICE 'TopTransactionContext grew by less than 1 MB over 100000 subtransactions: %',
        pg_temp.top_transaction_bytes() - before < 1024 * 1024;
END
$$;
