-- Runs first (Makefile, REGRESS_FIRST): event_log in partitions of 100
-- positions from the start, so that the events of every later test are
-- spread over many partitions and their causation links, walks, reads and
-- purges cross partition boundaries, as in a store of billions of events.
SELECT count(*) AS partitions_made FROM candystore.make_partitions(ahead => 120, size => 100);
SELECT count(*) AS partitions, min(first_position) AS first, max(last_position) AS last
  FROM candystore.event_log_partitions;
