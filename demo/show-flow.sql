-- Shows the sample flow after the ingest worker has stored it.
\set ON_ERROR_STOP on
\pset footer off

\echo
\echo 'The flow, as the ingest worker stored it from RabbitMQ (candystore.events):'
SELECT position, event_type, occurred_at, source->>'app' AS app, routing_key,
       array_length(correlation_ids, 1) AS parents
  FROM candystore.events ORDER BY position;

\echo
\echo 'The worker''s counters since the server started (candystore.stats):'
SELECT * FROM candystore.stats;

\echo
\echo 'What it could not store, and why (candystore.dead_letters):'
SELECT id, routing_key, sqlstate, reason, convert_from(body, 'UTF8') AS body
  FROM candystore.dead_letters ORDER BY id;

\echo
\echo 'What the upload caused (candystore.trace_render), as a tree:'
\pset format unaligned
\pset tuples_only on
SELECT candystore.trace_render('3f6c2a9e-8d41-4b7a-9e15-2c7d0b4f8a61');
\echo
\echo '... and for Markdown (format => ''mermaid''):'
SELECT candystore.trace_render('3f6c2a9e-8d41-4b7a-9e15-2c7d0b4f8a61', 'mermaid');
\pset format aligned
\pset tuples_only off

\echo
\echo 'The last event, exactly as published (candystore.get_event):'
SELECT jsonb_pretty(candystore.get_event('e7a09b35-2d8c-4f61-a4b9-0c3e5f8d1a27')) AS envelope;
