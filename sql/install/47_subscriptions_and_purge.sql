
-- Subscriptions and retention ---------------------------------------------------
-- purge_events() must not leave a subscription's checkpoint before a gap it
-- cannot see: each purge counts, per checkpoint, the purged events the
-- checkpoint had still to read (purged_unread), and read_subscription()
-- refuses to read on until the owner accepts the loss
-- (ack_subscription(..., accept_purged => true)).  A subscription no member
-- has read yet counts on its start; its members inherit the count.  A
-- statement trigger, so purge_events() (C, shared with 0.1.0) is untouched.

CREATE FUNCTION @extschema@.subscriptions_count_purged() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.subscription_checkpoint k SET purged_unread = k.purged_unread + n.n
      FROM (SELECT k2.name, k2.member, count(*) AS n
              FROM @extschema@.subscription_checkpoint k2
              JOIN @extschema@.subscription s ON s.name = k2.name
              JOIN purged p ON (p.xid, p.position) > (k2.xid, k2.position)
             WHERE (s.event_types IS NULL OR p.event_type = ANY (s.event_types))
               AND (s.group_size = 1
                    OR ('x' || right(p.causation_group::text, 7))::bit(28)::int % s.group_size = k2.member)
             GROUP BY k2.name, k2.member) n
     WHERE k.name = n.name AND k.member = n.member;
    UPDATE @extschema@.subscription s SET purged_unread = s.purged_unread + n.n
      FROM (SELECT s2.name, count(*) AS n
              FROM @extschema@.subscription s2
              JOIN purged p ON (p.xid, p.position) > (s2.start_xid, s2.start_position)
             WHERE (s2.event_types IS NULL OR p.event_type = ANY (s2.event_types))
               AND NOT EXISTS (SELECT 1 FROM @extschema@.subscription_checkpoint k WHERE k.name = s2.name)
             GROUP BY s2.name) n
     WHERE s.name = n.name;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.subscriptions_count_purged() IS
    'After purge_events(): counts, per subscription checkpoint, the events it lost unread.';
REVOKE ALL ON FUNCTION @extschema@.subscriptions_count_purged() FROM PUBLIC;

CREATE TRIGGER event_log_purged_unread
    AFTER DELETE ON @extschema@.event_log
    REFERENCING OLD TABLE AS purged
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.subscriptions_count_purged();
-- a purge in replica mode still counts what subscriptions lost
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_purged_unread;
