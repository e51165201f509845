-- The walks read causation groups that append() keeps (trace_links.c); these
-- are the cases where an event's parents are not simply in its first
-- parent's group: a late parent that has parents of its own, a join of two
-- graphs, chains of late arrivals, and a purged parent appended again.  It
-- runs in a database of its own: purge_events must not touch other tests.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_trace_links;
CREATE DATABASE regress_candystore_trace_links;
\c regress_candystore_trace_links
CREATE EXTENSION candystore;
SET timezone = 'UTC';

-- Ids 000000NN-0000-4000-8000-000000000000 are shown as NN.  ev(n, type, ...)
-- stores an event of type trace.<type>; with age_days, one that occurred that
-- many days ago.
CREATE FUNCTION pg_temp.u(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT (lpad(n::text, 8, '0') || '-0000-4000-8000-000000000000')::uuid $$;
CREATE FUNCTION pg_temp.ev(n int, type text, parents int[], age_days int DEFAULT 0)
    RETURNS boolean LANGUAGE sql AS $$
    SELECT 0 < candystore.append(jsonb_build_object(
        'event_id', pg_temp.u(n), 'event_type', 'trace.' || type,
        'timestamp', to_char((date_trunc('day', now()) - (age_days + 1) * interval '1 day'
                              + n * interval '1 minute') AT TIME ZONE 'UTC',
                             'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'fireflies', 'meta', null),
        'correlation_ids', (SELECT coalesce(jsonb_agg(pg_temp.u(p)), '[]') FROM unnest(parents) p),
        'agent_context', null, 'payload', '{}'::jsonb))
$$;
CREATE FUNCTION pg_temp.s(id uuid) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT left(id::text, 8)::int $$;
-- One line per walk: e:depth in result order; (missing) marks a parent not stored.
CREATE FUNCTION pg_temp.down(n int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(pg_temp.s(event_id) || ':' || depth, ' ') FROM candystore.descendants(pg_temp.u(n)) $$;
CREATE FUNCTION pg_temp.up(n int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(pg_temp.s(event_id) || ':' || depth, ' ') FROM candystore.ancestors(pg_temp.u(n)) $$;
CREATE FUNCTION pg_temp.whole(n int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(pg_temp.s(event_id) || CASE WHEN event_type IS NULL THEN '(missing)' ELSE '' END
                      || ':' || depth, ' ')
      FROM candystore.trace(pg_temp.u(n)) $$;

-- A child stored before its parent, the parent having a parent of its own
-- (1 -> 2 -> 3, stored 1, 3, 2): once 2 arrives, all walks see the chain.
SELECT pg_temp.ev(1, 'root', '{}');
SELECT pg_temp.ev(3, 'early.child', '{2}');
SELECT pg_temp.whole(3) AS before_parent, pg_temp.down(1) AS down_before;
SELECT pg_temp.ev(2, 'late.parent', '{1}');
SELECT pg_temp.down(1) AS down, pg_temp.up(3) AS up, pg_temp.whole(3) AS whole;

-- A chain stored leaf first (10 -> 11 -> 12 -> 13, stored 13, 12, 11, 10).
SELECT pg_temp.ev(13, 'd', '{12}'), pg_temp.ev(12, 'c', '{11}'), pg_temp.ev(11, 'b', '{10}');
SELECT pg_temp.whole(11) AS whole_before_root;
SELECT pg_temp.ev(10, 'a', '{}');
SELECT pg_temp.down(10) AS down, pg_temp.up(13) AS up, pg_temp.whole(12) AS whole;

-- A join of two separate graphs (20 -> 22 <- 21, then 23 under the join):
-- from either root the join and what follows it are reached.
SELECT pg_temp.ev(20, 'x', '{}'), pg_temp.ev(21, 'y', '{}'), pg_temp.ev(24, 'y.child', '{21}');
SELECT pg_temp.ev(22, 'join', '{20,21}'), pg_temp.ev(23, 'after.join', '{22}');
SELECT pg_temp.down(21) AS down_y, pg_temp.down(20) AS down_x, pg_temp.up(23) AS up;
SELECT pg_temp.whole(24) AS whole;

-- A join whose second parent arrives late and has a parent of its own:
-- 30 -> 32 <- 31 <- 33, stored 30, 33, 32, 31.
SELECT pg_temp.ev(30, 'x', '{}'), pg_temp.ev(33, 'z', '{}'), pg_temp.ev(32, 'join', '{30,31}');
SELECT pg_temp.whole(32) AS whole_before;
SELECT pg_temp.ev(31, 'late.second.parent', '{33}');
SELECT pg_temp.down(33) AS down, pg_temp.up(32) AS up, pg_temp.whole(30) AS whole;

-- Unrelated graphs stay apart, also when their groups were linked: 40 and
-- 41 are two roots, 42 joins them, 43 is another child of 41 only.
SELECT pg_temp.ev(40, 'r1', '{}'), pg_temp.ev(41, 'r2', '{}'), pg_temp.ev(42, 'j', '{40,41}'), pg_temp.ev(43, 'only.r2', '{41}');
SELECT pg_temp.down(40) AS down_r1, pg_temp.up(43) AS up;
SELECT pg_temp.ev(44, 'alone', '{}');
SELECT pg_temp.whole(44) AS alone;

-- Purged parents: 50 -> 51 -> 52 -> 53 where 50..52 are old and 53 recent.
-- After the purge, 53 shows 52 as missing; appending 52 again (the same
-- envelope, e.g. a replay) links it to 53 once more, though 52's parent is
-- gone and 53 sits in the group of the purged root.
SELECT pg_temp.ev(50, 'old.root', '{}', 400), pg_temp.ev(51, 'old.b', '{50}', 400),
       pg_temp.ev(52, 'old.c', '{51}', 400), pg_temp.ev(53, 'recent', '{52}');
-- The same with the purged event a recent event's second parent: 70 -> 71 ->
-- 72 old, 75 recent with parents 74 (recent) and 72, so 75 sits in 74's group.
SELECT pg_temp.ev(70, 'old.root', '{}', 400), pg_temp.ev(71, 'old.b', '{70}', 400),
       pg_temp.ev(72, 'old.c', '{71}', 400), pg_temp.ev(74, 'recent.root', '{}'),
       pg_temp.ev(75, 'recent.join', '{74,72}');
SELECT candystore.purge_events('300 days') AS purged;
SELECT pg_temp.whole(53) AS after_purge, pg_temp.up(53) AS up_after_purge;
SELECT pg_temp.whole(75) AS second_parent_after_purge;
SELECT pg_temp.ev(52, 'old.c', '{51}', 400);
SELECT pg_temp.down(52) AS down, pg_temp.up(53) AS up, pg_temp.whole(53) AS whole;
SELECT pg_temp.ev(72, 'old.c', '{71}', 400);
SELECT pg_temp.down(72) AS down_second_parent, pg_temp.whole(72) AS whole_second_parent;

\c :home_database
DROP DATABASE regress_candystore_trace_links;
