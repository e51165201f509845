-- The candystore.* prefix is reserved: a setting name candystore does not
-- define is refused, not kept as a placeholder that does nothing.
\set VERBOSITY default
SET candystore.amqp_ulr = 'amqp://elsewhere/';
SELECT set_config('candystore.accept_unknown_event_type', 'off', false);
\set VERBOSITY terse
-- the real names still work
SHOW candystore.batch_size;
SET candystore.validation = 'full';
RESET candystore.validation;
