-- The causation walks read a group's rows from the group index alone once
-- VACUUM has marked their heap pages all-visible (an index-only read), and
-- give exactly the rows they gave from the heap: an event whose rows other
-- traffic spread over many heap pages costs no heap page per event.  Rows
-- on pages not all-visible yet, and events with more parents than fit an
-- index entry, are still read from the heap.  Counted, not timed: the
-- shared buffers a walk touches, from EXPLAIN (ANALYZE, BUFFERS).
SET timezone = 'UTC';

-- Event n of this test: 0000nnnn-0000-4000-8000-000000000777.
CREATE FUNCTION pg_temp.v(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT (lpad(n::text, 8, '0') || '-0000-4000-8000-000000000777')::uuid $$;
CREATE FUNCTION pg_temp.ev(n int, type text, parents int[]) RETURNS bigint LANGUAGE sql AS $$
    SELECT candystore.append(jsonb_build_object(
        'event_id', pg_temp.v(n), 'event_type', type,
        'timestamp', to_char(timestamptz '2026-01-27 10:00:00Z' + n * interval '1 second',
                             'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'linear', 'meta', null),
        'correlation_ids', (SELECT coalesce(jsonb_agg(pg_temp.v(p)), '[]') FROM unnest(parents) p),
        'agent_context', null, 'payload', '{}'::jsonb))
$$;
\i sql/helpers/pages_touched.sql

-- A root (1) and 80 children (1001..1080), each child after 60 events of
-- other traffic (roots of their own, 100000 on), so that the children's
-- event_ids rows are on many heap pages; then a join (2000) naming the root
-- and 60 children (61 parents: fits an index entry) and one naming 70
-- children (2001: more parents than fit, read from the heap), and a child of
-- each.  All of them are in the root's causation group.
SELECT pg_temp.ev(1, 'batch.started', '{}') > 0 AS root;
SELECT count(pg_temp.ev(CASE WHEN i % 61 = 60 THEN 1001 + i / 61 ELSE 100000 + i END,
                        CASE WHEN i % 61 = 60 THEN 'batch.item.queued' ELSE 'other.traffic.seen' END,
                        CASE WHEN i % 61 = 60 THEN '{1}'::int[] ELSE '{}' END)) AS appended
  FROM generate_series(0, 61 * 80 - 1) i;
SELECT pg_temp.ev(2000, 'batch.joined', ARRAY[1] || ARRAY(SELECT generate_series(1001, 1060))) > 0 AS join_61,
       pg_temp.ev(2001, 'batch.joined', ARRAY(SELECT generate_series(1001, 1070))) > 0 AS join_70,
       pg_temp.ev(2002, 'batch.item.done', '{2000}') > 0 AS child_of_61,
       pg_temp.ev(2003, 'batch.item.done', '{2001}') > 0 AS child_of_70;
-- the children's rows are on at least 60 different heap pages
SELECT count(DISTINCT (ctid::text::point)[0]) >= 60 AS children_on_many_heap_pages
  FROM candystore.event_ids WHERE event_id IN (SELECT pg_temp.v(n) FROM generate_series(1001, 1080) n);

-- What the walks give, read from the heap (nothing vacuumed yet) ...
CREATE TEMP TABLE walks(walk text, start int, event_id uuid, event_type text,
                        occurred_at timestamptz, depth int, parent_ids uuid[]);
CREATE FUNCTION pg_temp.walk_rows(label text) RETURNS SETOF walks LANGUAGE sql AS $$
    SELECT label || ' trace', s, t.* FROM unnest(ARRAY[1, 1030, 2003]) s, candystore.trace(pg_temp.v(s)) t
    UNION ALL
    SELECT label || ' descendants', s, d.* FROM unnest(ARRAY[1, 1030]) s, candystore.descendants(pg_temp.v(s)) d
    UNION ALL
    SELECT label || ' ancestors', s, a.* FROM unnest(ARRAY[2002, 2003]) s, candystore.ancestors(pg_temp.v(s)) a
$$;
INSERT INTO walks SELECT * FROM pg_temp.walk_rows('heap');
SELECT walk, start, count(*) AS rows, max(depth) AS depth, max(cardinality(parent_ids)) AS most_parents
  FROM walks GROUP BY walk, start ORDER BY walk, start;

-- ... and the same once the pages are all-visible: row for row.
VACUUM candystore.event_ids;
INSERT INTO walks SELECT * FROM pg_temp.walk_rows('index');

SELECT count(*) AS rows_read_from_the_index,
       count(*) FILTER (WHERE h.event_id IS NULL) AS differing
  FROM (SELECT * FROM walks WHERE walk LIKE 'index%') i
  LEFT JOIN (SELECT * FROM walks WHERE walk LIKE 'heap%') h
    ON replace(h.walk, 'heap', 'index') = i.walk AND h.start = i.start AND h.event_id = i.event_id
   AND h.event_type = i.event_type AND h.occurred_at = i.occurred_at AND h.depth = i.depth
   AND h.parent_ids = i.parent_ids;
SELECT (SELECT count(*) FROM walks WHERE walk LIKE 'heap%') = (SELECT count(*) FROM walks WHERE walk LIKE 'index%')
       AS as_many_rows;

-- The work: a walk of the 85 events touches a few index pages, the start's
-- heap page and the row with 70 parents, not a heap page per child as it did
-- before VACUUM (unless autovacuum got there first).
SELECT pg_temp.pages(format('SELECT count(*) FROM candystore.descendants(%L)', pg_temp.v(1))) < 20
       AS few_pages_once_vacuumed;

-- A child appended after VACUUM is on a page not all-visible: read from the heap.
SELECT pg_temp.ev(1090, 'batch.item.queued', '{1}') > 0 AS late_child;
SELECT count(*) AS tree_with_late_child, bool_or(event_id = pg_temp.v(1090)) AS late_child_seen
  FROM candystore.descendants(pg_temp.v(1), 1);

-- Autovacuum marks new pages all-visible after every 10,000 appends (not
-- after 20% more rows, the default for an insert-only table), so the walks
-- of recent events read the index alone soon after they are stored.
SELECT unnest(reloptions) AS event_ids_autovacuum
  FROM pg_class WHERE oid = 'candystore.event_ids'::regclass ORDER BY 1;
