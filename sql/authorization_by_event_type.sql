-- Authorization by event type: grant_event_types() restricts a role to the
-- event types its patterns match, on every read path (get_event, the views,
-- read_all, subscriptions, trace walks, the timeline, replay) and every
-- write path (append, append_many, publish); a trace walk shows an event the
-- caller may not see as "(hidden)" and goes on through it; a role without
-- grants, and the owner, see everything.  A database of its own, so the
-- counts are this test's alone.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_authz;
CREATE DATABASE regress_candystore_authz;
\c regress_candystore_authz
CREATE EXTENSION candystore;
SET timezone = 'UTC';
\i sql/helpers/expect_error.sql

-- SQLSTATE, message and detail of a refused statement.
CREATE FUNCTION pg_temp.refusal(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
    detail text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || msg || ' / ' || detail;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.refusal(text), pg_temp.expect_error(text) TO PUBLIC;

-- Test ids: 000000NN-0000-4000-8000-000000000000, shown as NN.
CREATE FUNCTION pg_temp.u(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT (lpad(n::text, 8, '0') || '-0000-4000-8000-000000000000')::uuid $$;
CREATE FUNCTION pg_temp.s(id uuid) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT left(id::text, 8)::int $$;
CREATE FUNCTION pg_temp.env(n int, type text, parents int[]) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', pg_temp.u(n), 'event_type', type,
        'timestamp', to_char(timestamptz '2026-01-27 10:00:00Z' + n * interval '1 minute',
                             'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'test', 'meta', null),
        'correlation_ids', (SELECT coalesce(jsonb_agg(pg_temp.u(p)), '[]') FROM unnest(parents) p),
        'agent_context', null, 'payload', jsonb_build_object('meeting_id', 'authz-m-1'))
$$;
GRANT EXECUTE ON FUNCTION pg_temp.u(int), pg_temp.s(uuid), pg_temp.env(int, text, int[]) TO PUBLIC;

-- The pattern syntax: "*" one segment, "#" zero or more, words match themselves.
SELECT p AS pattern, t AS event_type, candystore.event_type_pattern_matches(p, t) AS matches
  FROM (VALUES ('fireflies.#', 'fireflies.transcript.ready'), ('fireflies.#', 'fireflies.ping'),
               ('fireflies.#', 'fireflies'), ('fireflies.#', 'firefliesx.ping'),
               ('fireflies.*', 'fireflies.ping'), ('fireflies.*', 'fireflies.transcript.ready'),
               ('*.task.*', 'agent.task.done'), ('*.task.*', 'agent.tasks.done'),
               ('#.done', 'agent.task.done'), ('#.done', 'agent.task.start'),
               ('a.#.z', 'a.z'), ('a.#.z', 'a.b.c.z'), ('a.#.#.z', 'a.b.z'), ('#', 'llm.usage.logged'),
               ('agent.task.done', 'agent.task.done'), ('agent.task', 'agent.task.done'),
               ('none', 'none.at.all')) v(p, t);
-- malformed patterns and arguments: 22023, nothing granted
CREATE ROLE regress_cs_authz_a IN ROLE candystore_writer;
SELECT pg_temp.expect_error(format('SELECT candystore.grant_event_types(%L, %L)', 'regress_cs_authz_a', p)) AS refused
  FROM (VALUES ('{""}'), ('{"fireflies..ready"}'), ('{"Fireflies.#"}'), ('{"fireflies.ready*"}'),
               ('{"fire-flies.#"}'), ('{"fireflies.#", "bad pattern"}'), ('{}'), ('{NULL}')) v(p);
SELECT pg_temp.expect_error($$SELECT candystore.grant_event_types(NULL, '{a.b}')$$) AS no_role;
SELECT pg_temp.refusal($$SELECT candystore.grant_event_types('regress_cs_authz_a', '{fireflies.ready*.#}')$$) AS says_which;
SELECT pg_temp.expect_error(format('SELECT candystore.event_type_pattern_matches(%L, %L)', repeat('a', 256), 'a.b')) AS too_long;
SELECT count(*) AS nothing_granted FROM candystore.event_type_grants;

-- Two teams of writers, a member of the first, and a writer without grants.
CREATE ROLE regress_cs_authz_b IN ROLE candystore_writer;
CREATE ROLE regress_cs_authz_member IN ROLE regress_cs_authz_a;
CREATE ROLE regress_cs_authz_free IN ROLE candystore_writer;
SELECT candystore.grant_event_types('regress_cs_authz_a', '{fireflies.#}') AS granted_a,
       candystore.grant_event_types('regress_cs_authz_b', '{agent.*.*, llm.usage.logged}') AS granted_b,
       candystore.grant_event_types('regress_cs_authz_b', '{agent.*.*}') AS granted_again;
-- only the owner grants
SET ROLE regress_cs_authz_a;
SELECT pg_temp.expect_error($$SELECT candystore.grant_event_types('regress_cs_authz_a', '{#}')$$) AS not_the_owner;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.event_type_grants$$) AS grants_are_the_owners;
RESET ROLE;

-- A graph whose types alternate between the teams, 1 -> 2 -> 3 -> 4, and 5
-- with parents 2 and 4, all of meeting authz-m-1; then a run for the cursors.
SELECT candystore.append(pg_temp.env(1, 'fireflies.note.start', '{}')) > 0 AS a1,
       candystore.append(pg_temp.env(2, 'agent.task.start', '{1}')) > 0 AS a2,
       candystore.append(pg_temp.env(3, 'fireflies.note.end', '{2}')) > 0 AS a3,
       candystore.append(pg_temp.env(4, 'agent.task.done', '{3}')) > 0 AS a4,
       candystore.append(pg_temp.env(5, 'fireflies.ping', '{2,4}')) > 0 AS a5;
SELECT count(candystore.append(pg_temp.env(n, CASE WHEN n % 4 = 0 THEN 'fireflies.ping' ELSE 'llm.usage.logged' END, '{}')))
       AS appended FROM generate_series(10, 21) n;
SET ROLE regress_cs_authz_a;
SELECT candystore.subscribe('authz_a', 'beginning') IS NOT NULL AS subscribed;
RESET ROLE;

-- What each role sees through the views and get_event.
CREATE FUNCTION pg_temp.seen() RETURNS TABLE(role name, patterns text[], events int[], event_stream int[], get_event int[])
LANGUAGE sql AS $$
    SELECT current_user, candystore.event_type_patterns(),
           (SELECT array_agg(pg_temp.s(event_id) ORDER BY position) FROM candystore.events),
           (SELECT array_agg(pg_temp.s(event_id) ORDER BY position) FROM candystore.event_stream),
           (SELECT array_agg(n ORDER BY n) FROM generate_series(1, 21) n
             WHERE candystore.get_event(pg_temp.u(n)) IS NOT NULL)
$$;
GRANT EXECUTE ON FUNCTION pg_temp.seen() TO PUBLIC;
SELECT * FROM pg_temp.seen();
SET ROLE regress_cs_authz_a;
SELECT * FROM pg_temp.seen();
SET ROLE regress_cs_authz_b;
SELECT * FROM pg_temp.seen();
SET ROLE regress_cs_authz_member;
SELECT * FROM pg_temp.seen();
SET ROLE regress_cs_authz_free;
SELECT * FROM pg_temp.seen();
RESET ROLE;
-- SET LOCAL ROLE, as the HTTP API runs each request
BEGIN;
SET LOCAL ROLE regress_cs_authz_b;
SELECT pg_temp.s((candystore.get_event(pg_temp.u(2))->>'event_id')::uuid) AS b_sees_2,
       candystore.get_event(pg_temp.u(1)) IS NULL AS b_not_1;
COMMIT;
SELECT candystore.get_event(pg_temp.u(2)) IS NOT NULL AS owner_again;

-- Trace walks: a hidden event keeps its id, position order and links, and
-- shows "(hidden)" with no time; the walk goes on through it.
SET ROLE regress_cs_authz_a;
SELECT pg_temp.s(event_id) AS e, event_type, occurred_at, depth,
       (SELECT array_agg(pg_temp.s(p)) FROM unnest(parent_ids) p) AS parents
  FROM candystore.trace(pg_temp.u(3));
SELECT pg_temp.s(event_id) AS e, event_type, depth FROM candystore.ancestors(pg_temp.u(5));
SELECT pg_temp.s(event_id) AS e, event_type, depth FROM candystore.descendants(pg_temp.u(1));
SELECT candystore.trace_render(pg_temp.u(1));
SELECT candystore.trace_render(pg_temp.u(1), 'mermaid');
SELECT array_agg(pg_temp.s((e->>'event_id')::uuid)) AS caused_by_1 FROM candystore.events_caused_by(pg_temp.u(1)) e;
SELECT array_agg(pg_temp.s(event_id)) AS timeline FROM candystore.session_timeline('authz-m-1');
-- a walk from an event the caller may not see finds nothing, as for an
-- unknown id: its existence does not leak
SELECT count(*) AS from_hidden FROM candystore.descendants(pg_temp.u(4));
SELECT count(*) AS from_hidden FROM candystore.trace(pg_temp.u(2));
SELECT candystore.trace_render(pg_temp.u(2)) AS from_hidden;
SELECT count(*) AS from_hidden FROM candystore.events_caused_by(pg_temp.u(2));

-- read_all in pages of one and of three: every visible event once, in
-- order, none skipped; past the last visible one, nothing (not a stall on
-- the hidden ones after it).
CREATE FUNCTION pg_temp.pages(size int) RETURNS TABLE(pages int, events int[]) LANGUAGE plpgsql AS $$
DECLARE
    c text;
    r record;
    got int;
    seen int[] := '{}';
BEGIN
    pages := 0;
    LOOP
        got := 0;
        FOR r IN SELECT * FROM candystore.read_all(c, size) LOOP
            seen := seen || pg_temp.s(r.event_id);
            c := r.cursor;
            got := got + 1;
        END LOOP;
        EXIT WHEN got = 0;
        pages := pages + 1;
    END LOOP;
    events := seen;
    RETURN NEXT;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.pages(int) TO PUBLIC;
SELECT * FROM pg_temp.pages(1);
SELECT * FROM pg_temp.pages(3);
SELECT array_agg(pg_temp.s(event_id)) AS agent_types_asked_for FROM candystore.read_all(NULL, 100, '{agent.task.start}');
-- wait_for_events: after the last visible event only hidden ones follow
SELECT max(cursor COLLATE "C") AS last_a FROM candystore.read_all(NULL, 100) \gset
SELECT candystore.wait_for_events(:'last_a', '0') AS more_for_a,
       candystore.wait_for_events(NULL, '0') AS some_for_a;
-- the subscription reads in twos, acknowledging each page, and misses nothing
SELECT array_agg(pg_temp.s(event_id)) AS page1 FROM candystore.read_subscription('authz_a', 2);
SELECT candystore.ack_subscription('authz_a', (SELECT max(cursor COLLATE "C") FROM candystore.read_subscription('authz_a', 2))) AS acked;
SELECT array_agg(pg_temp.s(event_id)) AS page2 FROM candystore.read_subscription('authz_a', 2);
SELECT lag_events FROM candystore.subscriptions WHERE name = 'authz_a';
SELECT candystore.ack_subscription('authz_a', :'last_a') AS acked_all;
SELECT count(*) AS nothing_after FROM candystore.read_subscription('authz_a', 100);
SELECT lag_events FROM candystore.subscriptions WHERE name = 'authz_a';
RESET ROLE;
SET ROLE regress_cs_authz_b;
SELECT * FROM pg_temp.pages(2);
SELECT pg_temp.s(event_id) AS e, event_type, depth FROM candystore.trace(pg_temp.u(1));
RESET ROLE;

-- Replay enqueues only what the caller sees.
BEGIN;
SET LOCAL ROLE regress_cs_authz_a;
SELECT candystore.replay('2026-01-01', '2027-01-01') AS replayed_by_a,
       candystore.replay_trace(pg_temp.u(2)) AS trace_replayed_by_a;
ROLLBACK;
BEGIN;
SET LOCAL ROLE regress_cs_authz_free;
SELECT candystore.replay('2026-01-01', '2027-01-01') AS replayed_by_free;
ROLLBACK;

-- Event type estimates list only the visible types.
ANALYZE candystore.event_log;
SET ROLE regress_cs_authz_b;
SELECT event_type FROM candystore.event_type_estimates() WHERE event_type IS NOT NULL ORDER BY 1;
RESET ROLE;

-- Writes: a type not granted is refused with 42501 naming it, and nothing
-- is stored (also a duplicate of a stored event, also in a batch).
SET ROLE regress_cs_authz_a;
SELECT candystore.append(pg_temp.env(30, 'fireflies.note.start', '{}')) > 0 AS a_appends_its_type;
SELECT pg_temp.refusal($$SELECT candystore.append(pg_temp.env(31, 'agent.task.start', '{}'))$$) AS append;
SELECT pg_temp.refusal($$SELECT candystore.append(pg_temp.env(2, 'agent.task.start', '{1}'))$$) AS duplicate;
SELECT pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[pg_temp.env(32, 'fireflies.ping', '{}'),
                                                                     pg_temp.env(33, 'llm.usage.logged', '{}')])$$) AS append_many;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.env(34, 'llm.usage.logged', '{}'))$$) AS publish;
SELECT candystore.publish(pg_temp.env(35, 'fireflies.ping', '{}')) > 0 AS a_publishes_its_type;
RESET ROLE;
SELECT array_agg(pg_temp.s(event_id) ORDER BY 1) AS stored_30_to_35 FROM candystore.events
 WHERE pg_temp.s(event_id) BETWEEN 30 AND 35;
SET ROLE regress_cs_authz_free;
SELECT candystore.append(pg_temp.env(36, 'agent.task.start', '{}')) > 0 AS free_appends_anything;
RESET ROLE;

-- Grants take effect at once, in sessions that cached the old ones too;
-- revoking the last grant lifts the restriction.
SET ROLE regress_cs_authz_a;
SELECT count(*) AS a_before FROM candystore.events;
RESET ROLE;
SELECT candystore.grant_event_types('regress_cs_authz_a', '{agent.task.done}') AS granted;
SET ROLE regress_cs_authz_a;
SELECT count(*) AS a_after_grant, bool_or(event_type = 'agent.task.done') AS sees_done FROM candystore.events;
RESET ROLE;
BEGIN;
SELECT candystore.revoke_event_types('regress_cs_authz_a', '{agent.task.done}') AS revoked;
SET LOCAL ROLE regress_cs_authz_a;
SELECT count(*) AS a_after_revoke FROM candystore.events;
ROLLBACK;
SET ROLE regress_cs_authz_a;
SELECT count(*) AS a_after_rollback FROM candystore.events;
RESET ROLE;
SELECT candystore.revoke_event_types('regress_cs_authz_a') AS revoked_all;
SET ROLE regress_cs_authz_member;
SELECT count(*) AS member_unrestricted FROM candystore.events;
RESET ROLE;
SELECT grantee, pattern FROM candystore.event_type_grants ORDER BY 1, 2;

\c :home_database
DROP DATABASE regress_candystore_authz;
DROP ROLE regress_cs_authz_member, regress_cs_authz_a, regress_cs_authz_b, regress_cs_authz_free;
