
-- Subscriptions ----------------------------------------------------------------
-- A subscription is a named checkpoint in the read_all() order, kept in the
-- database so a consumer resumes where it acknowledged.  read_subscription()
-- reads after the checkpoint and moves nothing (a batch read again before its
-- ack is read again: at least once); ack_subscription() moves it forward.
-- A subscription read by a consumer group of N members keeps one checkpoint
-- per member; its events are split by causation group (read_partition()), so
-- all the events of one group go to one member, in reading order.  N is
-- fixed by the first read.
--
-- A subscription belongs to the role that created it: that role (and roles
-- that are members of it) sees it in candystore.subscriptions and may read,
-- ack and drop it; no other role sees it (row security).  The functions run
-- with the caller's rights.

CREATE TABLE @extschema@.subscription (
    name            text PRIMARY KEY,
    owner           name NOT NULL DEFAULT current_user,
    event_types     text[],
    start_xid       xid8 NOT NULL,
    start_position  bigint NOT NULL,
    group_size      int CHECK (group_size >= 1),     -- fixed by the first read
    purged_unread   bigint NOT NULL DEFAULT 0,       -- purged before the first read (47_...)
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.subscription IS
    'Subscriptions (subscribe()); read them through candystore.subscriptions.';

CREATE TABLE @extschema@.subscription_checkpoint (
    name            text NOT NULL REFERENCES @extschema@.subscription ON DELETE CASCADE,
    member          int NOT NULL,
    owner           name NOT NULL DEFAULT current_user,
    xid             xid8 NOT NULL,
    "position"      bigint NOT NULL,
    last_read_at    timestamptz,
    last_ack_at     timestamptz,
    purged_unread   bigint NOT NULL DEFAULT 0,  -- events purge_events() removed past the checkpoint
    PRIMARY KEY (name, member)
);
COMMENT ON TABLE @extschema@.subscription_checkpoint IS
    'Each subscription member''s checkpoint: the cursor of the last event it acknowledged.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.subscription', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.subscription_checkpoint', '');

ALTER TABLE @extschema@.subscription ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.subscription_checkpoint ENABLE ROW LEVEL SECURITY;
CREATE POLICY subscription_owner ON @extschema@.subscription
    USING (pg_catalog.pg_has_role(current_user, owner, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(current_user, owner, 'MEMBER'));
-- a checkpoint is written only for a subscription its writer may see, and
-- belongs to the subscription's owner (no squatting on another's member)
CREATE POLICY subscription_checkpoint_owner ON @extschema@.subscription_checkpoint
    USING (pg_catalog.pg_has_role(current_user, owner, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(current_user, owner, 'MEMBER')
                AND EXISTS (SELECT 1 FROM @extschema@.subscription s
                             WHERE s.name = subscription_checkpoint.name AND s.owner = subscription_checkpoint.owner));
REVOKE ALL ON @extschema@.subscription, @extschema@.subscription_checkpoint FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.subscription, @extschema@.subscription_checkpoint
    TO candystore_reader;

CREATE FUNCTION @extschema@.subscribe(name text, start_at text DEFAULT 'now', event_types text[] DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'a subscription needs a name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF start_at = 'beginning' THEN
        c := @extschema@.cursor_decode(NULL);
    ELSIF start_at = 'now' OR start_at IS NULL THEN
        -- everything below the horizon is before "now", everything later above it
        SELECT ((@extschema@.read_horizon_xid()::text::bigint - 1)::text)::xid8 AS xid,
               9223372036854775807::bigint AS "position"
          INTO c;
    ELSE
        c := @extschema@.cursor_decode(start_at);
    END IF;
    BEGIN
        INSERT INTO @extschema@.subscription (name, event_types, start_xid, start_position)
        VALUES (subscribe.name, subscribe.event_types, c.xid, c.position);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'subscription "%" already exists', subscribe.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Drop it with candystore.unsubscribe() first, or pick another name.';
    END;
    RETURN @extschema@.cursor_encode(c.xid, c.position);
END
$$;
COMMENT ON FUNCTION @extschema@.subscribe(text, text, text[]) IS
    'Creates a subscription owned by the current role, starting at ''beginning'', ''now'' or after a cursor; returns its starting cursor.';

-- The caller's checkpoint row of member of name, created on the first read
-- (which also fixes the group size); raises for an unknown subscription or
-- another group size.
CREATE FUNCTION @extschema@.subscription_member(name text, member int, group_size int)
    RETURNS @extschema@.subscription_checkpoint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s @extschema@.subscription;
    cp @extschema@.subscription_checkpoint;
BEGIN
    SELECT * INTO s FROM @extschema@.subscription WHERE subscription.name = subscription_member.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', subscription_member.name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with candystore.subscribe(); a role sees only the subscriptions it owns.';
    END IF;
    IF group_size IS NULL OR group_size < 1 OR member IS NULL OR member < 0 OR member >= group_size THEN
        RAISE EXCEPTION 'member % of a group of % does not exist',
                        coalesce(member::text, 'NULL'), coalesce(group_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Members are numbered from 0 to group_size - 1.';
    END IF;
    IF s.group_size IS NULL THEN
        UPDATE @extschema@.subscription SET group_size = subscription_member.group_size
         WHERE subscription.name = subscription_member.name AND subscription.group_size IS NULL
        RETURNING * INTO s;
        IF NOT FOUND THEN   -- another member's first read fixed it meanwhile
            SELECT * INTO s FROM @extschema@.subscription WHERE subscription.name = subscription_member.name;
        END IF;
    END IF;
    IF s.group_size <> subscription_member.group_size THEN
        RAISE EXCEPTION 'subscription "%" is read by a group of %, not %',
                        s.name, s.group_size, subscription_member.group_size
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The group size is fixed by the first read; to change it, subscribe anew at the slowest member''s checkpoint.';
    END IF;
    -- a new member inherits the count of events purged unread before the first read (47_...)
    INSERT INTO @extschema@.subscription_checkpoint (name, member, owner, xid, "position", purged_unread)
    VALUES (s.name, subscription_member.member, s.owner, s.start_xid, s.start_position,
            (SELECT s2.purged_unread FROM @extschema@.subscription s2 WHERE s2.name = s.name))
    ON CONFLICT DO NOTHING;
    SELECT * INTO cp FROM @extschema@.subscription_checkpoint k
     WHERE k.name = s.name AND k.member = subscription_member.member;
    RETURN cp;
END
$$;
COMMENT ON FUNCTION @extschema@.subscription_member(text, int, int) IS
    'Internal to read_subscription() and ack_subscription(): the checkpoint of one member.';

CREATE FUNCTION @extschema@.read_subscription(name text, max_count int DEFAULT 1000,
                                               member int DEFAULT 0, group_size int DEFAULT 1)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql VOLATILE ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cp @extschema@.subscription_checkpoint;
    types text[];
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cp := @extschema@.subscription_member(name, member, group_size);
    IF cp.purged_unread > 0 THEN
        RAISE EXCEPTION 'subscription "%" lost % events to purge_events() after its checkpoint',
                        cp.name, cp.purged_unread
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'They were purged before this subscription read them.',
                  HINT = 'To read on past the gap, call candystore.ack_subscription(name, NULL, member, group_size, accept_purged => true).';
    END IF;
    SELECT s.event_types INTO types FROM @extschema@.subscription s WHERE s.name = cp.name;
    UPDATE @extschema@.subscription_checkpoint k SET last_read_at = pg_catalog.clock_timestamp()
     WHERE k.name = cp.name AND k.member = cp.member;
    RETURN QUERY
        SELECT * FROM @extschema@.read_partition(@extschema@.cursor_encode(cp.xid, cp.position),
                                                 max_count, types, cp.member, group_size);
END
$$;
COMMENT ON FUNCTION @extschema@.read_subscription(text, int, int, int) IS
    'The next events after the subscription''s (or group member''s) checkpoint; moves nothing: acknowledge with ack_subscription().';

CREATE FUNCTION @extschema@.ack_subscription(name text, cursor text, member int DEFAULT 0,
                                              group_size int DEFAULT 1, accept_purged boolean DEFAULT false)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cp @extschema@.subscription_checkpoint;
    c record;
BEGIN
    cp := @extschema@.subscription_member(name, member, group_size);
    IF cursor IS NULL AND NOT accept_purged THEN
        RAISE EXCEPTION 'cursor must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF accept_purged THEN
        UPDATE @extschema@.subscription_checkpoint k SET purged_unread = 0
         WHERE k.name = cp.name AND k.member = cp.member;
        cp.purged_unread := 0;
    END IF;
    IF cursor IS NULL THEN
        RETURN false;
    END IF;
    c := @extschema@.cursor_decode(cursor);
    -- never backwards: acknowledging an older cursor again (a retried ack) changes nothing
    UPDATE @extschema@.subscription_checkpoint k
       SET xid = c.xid, "position" = c.position, last_ack_at = pg_catalog.clock_timestamp()
     WHERE k.name = cp.name AND k.member = cp.member
       AND (k.xid, k.position) < (c.xid, c.position);
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.ack_subscription(text, text, int, int, boolean) IS
    'Moves the checkpoint to cursor if that is ahead of it (true), else changes nothing (false): never backwards.  accept_purged => true reads on past events purge_events() removed unread.';

CREATE FUNCTION @extschema@.unsubscribe(name text) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (DELETE FROM @extschema@.subscription s WHERE s.name = unsubscribe.name RETURNING 1)
    SELECT count(*) > 0 FROM gone;
END;
COMMENT ON FUNCTION @extschema@.unsubscribe(text) IS
    'Drops the subscription and its checkpoints; false when there was none (of the caller''s).';

-- Lag of one checkpoint: events readable after it and the oldest one's age.
CREATE FUNCTION @extschema@.subscription_lag(xid xid8, "position" bigint, event_types text[],
                                              member int, group_size int,
                                              OUT lag_events bigint, OUT oldest_unread_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT count(*), min(e.recorded_at)
      FROM @extschema@.event_log e
     WHERE (e.xid, e.position) > (subscription_lag.xid, subscription_lag.position)
       AND e.xid < @extschema@.read_horizon_xid()
       AND (subscription_lag.event_types IS NULL OR e.event_type = ANY (subscription_lag.event_types))
       AND @extschema@.event_type_visible(e.event_type)
       AND (subscription_lag.group_size = 1
            OR ('x' || right(e.causation_group::text, 7))::bit(28)::int % subscription_lag.group_size
               = subscription_lag.member);
END;
COMMENT ON FUNCTION @extschema@.subscription_lag(xid8, bigint, text[], int, int) IS
    'Internal to candystore.subscriptions: the events readable after a checkpoint and when the oldest was recorded.';
REVOKE ALL ON FUNCTION @extschema@.subscription_lag(xid8, bigint, text[], int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.subscription_lag(xid8, bigint, text[], int, int) TO candystore_reader;

CREATE VIEW @extschema@.subscriptions WITH (security_invoker = true) AS
SELECT s.name, k.member, s.group_size, s.owner, s.event_types,
       @extschema@.cursor_encode(coalesce(k.xid, s.start_xid), coalesce(k.position, s.start_position)) AS checkpoint,
       l.lag_events,
       pg_catalog.now() - l.oldest_unread_at AS lag_time,
       k.last_read_at, k.last_ack_at, coalesce(k.purged_unread, s.purged_unread) AS purged_unread, s.created_at
  FROM @extschema@.subscription s
  LEFT JOIN @extschema@.subscription_checkpoint k ON k.name = s.name
  CROSS JOIN LATERAL @extschema@.subscription_lag(coalesce(k.xid, s.start_xid),
                                                  coalesce(k.position, s.start_position),
                                                  s.event_types, coalesce(k.member, 0),
                                                  coalesce(s.group_size, 1)) l;
COMMENT ON VIEW @extschema@.subscriptions IS
    'The caller''s subscriptions, a row per member: checkpoint, lag (events readable after it, and how long the oldest has waited), last read and ack, events purged unread.';
GRANT SELECT ON @extschema@.subscriptions TO candystore_reader;

REVOKE ALL ON FUNCTION @extschema@.subscribe(text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.subscription_member(text, int, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.read_subscription(text, int, int, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.ack_subscription(text, text, int, int, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.unsubscribe(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.subscribe(text, text, text[]) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.subscription_member(text, int, int) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.read_subscription(text, int, int, int) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.ack_subscription(text, text, int, int, boolean) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.unsubscribe(text) TO candystore_reader;
