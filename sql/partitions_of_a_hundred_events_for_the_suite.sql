-- Runs first (Makefile, REGRESS_FIRST): event_log in partitions of 100
-- positions from the start, so that the events of every later test are
-- spread over many partitions and their causation links, walks, reads and
-- purges cross partition boundaries, as in a store of billions of events.
-- (t/upgrade_from_0_1_0.pl runs the tests in name order, after others: the
-- rows stored by then are moved out of the default partition.)
SELECT count(*) >= 120 AS partitions_made FROM candystore.make_partitions(ahead => 120, size => 100);
SELECT count(*) >= 120 AS partitions, min(first_position) AS first, max(last_position) >= 12000 AS far_enough,
       bool_and(last_position - first_position = 99) AS each_of_100
  FROM candystore.event_log_partitions;
SELECT count(*) AS left_in_default FROM candystore.event_log_default;
