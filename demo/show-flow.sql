-- Appends the sample flow (one envelope per line of :flow) and prints it back.
\set ON_ERROR_STOP on
\pset footer off
SELECT count(candystore.append(line::jsonb, line::jsonb->>'event_type')) AS events_appended
  FROM regexp_split_to_table(:'flow', E'\n') AS line
 WHERE line <> '';

\echo
\echo 'The flow, as stored (candystore.events):'
SELECT position, event_type, occurred_at, source->>'app' AS app,
       array_length(correlation_ids, 1) AS parents
  FROM candystore.events ORDER BY position;

\echo
\echo 'The last event, exactly as appended (candystore.get_event):'
SELECT jsonb_pretty(candystore.get_event('5a1e0001-7c1d-4f0a-9c7e-000000000004')) AS envelope;
