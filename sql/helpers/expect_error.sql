-- pg_temp.expect_error(statement): runs it and reports "SQLSTATE: message",
-- or "ok" when it succeeds, so a test can list many refusals in one table.
CREATE FUNCTION pg_temp.expect_error(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- A valid envelope in Bloodbank's shape, to derive variants from.
CREATE FUNCTION pg_temp.sample_envelope(id uuid) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', id,
        'event_type', 'fireflies.transcript.ready',
        'timestamp', '2026-01-27T10:15:00.123456Z',
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'fireflies', 'meta', NULL),
        'correlation_ids', jsonb_build_array(),
        'agent_context', NULL,
        'payload', jsonb_build_object('id', 'ff_meeting_456', 'title', 'Team Standup'))
$$;
