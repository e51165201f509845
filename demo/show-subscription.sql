-- Shows a subscription catching up with the flow, a batch at a time.
\set ON_ERROR_STOP on
\pset footer off

\echo
\echo 'A subscription created before the flow arrived (candystore.subscriptions), behind by the whole flow:'
SELECT name, checkpoint, lag_events, last_ack_at IS NOT NULL AS acked FROM candystore.subscriptions;

\echo
\echo 'It catches up in batches of 2: read_subscription() reads after the checkpoint, ack_subscription() moves it.'
SELECT cursor, position, event_type FROM candystore.read_subscription('demo-projection', 2);
SELECT candystore.ack_subscription('demo-projection', max(cursor)) AS acked
  FROM candystore.read_subscription('demo-projection', 2);
SELECT name, checkpoint, lag_events FROM candystore.subscriptions;
\echo '... and the rest:'
SELECT count(*) AS read, max(cursor) AS last FROM candystore.read_subscription('demo-projection', 1000) \gset
SELECT :read AS read, candystore.ack_subscription('demo-projection', nullif(:'last', '')) AS acked WHERE :read > 0;
SELECT name, checkpoint, lag_events, lag_time FROM candystore.subscriptions;

\echo
\echo 'Nothing more to read: wait_for_events() waits for a commit, here at most 1 second:'
SELECT candystore.wait_for_events(checkpoint, '1 second') AS new_events FROM candystore.subscriptions;
