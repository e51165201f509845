# pg_dump -Fc of a database holding data of every kind candystore keeps,
# restored with pg_restore into a second cluster, gives back every row of
# every table (events, causation links, schemas, schema resources, dead
# letters, outbox), and the restored store works on: sequences continue
# above the restored ids and positions, registered schemas (one $ref-ing a
# resource a user added) still enforce, trace() answers as before, events
# stay immutable.  The data includes odd but valid routing keys and dead
# letters with odd headers and binary bodies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @nodes;
for my $name ('dumped', 'restored')
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
	$node->start;
	$node->safe_psql('postgres', 'CREATE DATABASE store');
	push @nodes, $node;
}
my ($src, $dst) = @nodes;
$src->safe_psql('store', 'CREATE EXTENSION candystore');

# Every table and sequence the extension keeps user data in is marked for
# pg_dump (pg_extension_config_dump): a table added later without the mark
# fails here.
is($src->safe_psql('store', q{
	SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
	  FROM pg_class c
	 WHERE c.relnamespace = 'candystore'::regnamespace AND c.relkind IN ('r', 'p', 'S')
	   AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
	   AND c.oid <> 'candystore.event_log'::regclass   -- partitioned: its partitions hold the rows
	   AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'candystore')::oid[])}),
	'', 'every table and sequence of the extension is dumped with its data');

# event_log in partitions of 5 positions: the events below spread over
# three range partitions and the default one.  Range partitions are ordinary
# tables attached to event_log, dumped whole (definition, bounds, rows).
is($src->safe_psql('store', q{
	SELECT string_agg(p || ':' || EXISTS (SELECT FROM pg_depend d WHERE d.objid = ('candystore.' || p)::regclass AND d.deptype = 'e'), ' ')
	  FROM candystore.make_partitions(3, 5) p}),
	'event_log_p1:false event_log_p6:false event_log_p11:false', 'range partitions are made outside the extension');

# The data: events (with causation chains, a late parent, a purged parent),
# a schema that $refs a resource a user added, outbox rows in every state,
# and dead letters a superuser inserted directly.
$src->safe_psql('store', <<'SQL');
CREATE FUNCTION pg_temp.id(n int) RETURNS uuid LANGUAGE sql AS $$
    SELECT ('b0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid
$$;
CREATE FUNCTION pg_temp.env(n int, type text, payload jsonb, parents int[] DEFAULT '{}',
                            ts text DEFAULT '2026-01-27T10:15:00.123456Z') RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', pg_temp.id(n), 'event_type', type, 'timestamp', ts, 'version', '1.0.0',
        'source', jsonb_build_object('host', 'h', 'type', 'manual'),
        'correlation_ids', coalesce((SELECT jsonb_agg(pg_temp.id(p)) FROM unnest(parents) p), '[]'),
        'payload', payload,
        'unknown_field', E'kept "verbatim" \\ \u00fc \t\n')
$$;

SELECT candystore.add_schema_resource('https://backup.example/common/sku.json',
    '{"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"}');
SELECT candystore.register_schema('backup.item.added',
    '{"$id": "https://backup.example/item.added.v1.schema.json", "type": "object", "required": ["sku"],
      "properties": {"sku": {"$ref": "https://backup.example/common/sku.json"}, "qty": {"type": "integer"}}}');
SELECT candystore.register_schema('backup.item.added',
    '{"$id": "https://backup.example/item.added.v2.schema.json", "type": "object", "required": ["sku"],
      "properties": {"sku": {"$ref": "https://backup.example/common/sku.json"}, "qty": {"type": "integer"},
                     "note": {"type": "string"}}}');

-- odd but valid routing keys: quotes, backslashes, multibyte, 255 bytes,
-- empty, NULL, a COPY end-of-data marker
SELECT candystore.append(pg_temp.env(n, 'backup.item.added', jsonb_build_object('sku', 'ABC-' || n, 'qty', n)), rk)
  FROM (VALUES (1, 'backup.item.added'),
               (2, $k$it's "quoted"$k$),
               (3, $k$back\slash\\two\$k$),
               (4, 'ü.日本.🎉'),
               (5, repeat('é', 127) || 'x'),
               (6, ''),
               (7, NULL),
               (8, $k$\.$k$)) AS k(n, rk)
 ORDER BY n;
-- odd payloads
SELECT candystore.append(pg_temp.env(9, 'backup.odd.payload',
    jsonb_build_object('big', 123456789012345678901234567890.000000000000000000001, 'tiny', 1e-30,
                       'text', E'\u0001 \\ " \u2028 🎉', '', '', 'nested', '[[[{"a": [null, true, false]}]]]'::jsonb)));
-- causation: a chain, a join, a parent that arrives after its child
SELECT candystore.append(pg_temp.env(10, 'backup.chain.started', '{}'));
SELECT candystore.append(pg_temp.env(11, 'backup.chain.stepped', '{}', '{10}'));
SELECT candystore.append(pg_temp.env(12, 'backup.chain.joined', '{}', '{11, 10}'));
SELECT candystore.append(pg_temp.env(14, 'backup.chain.stepped', '{}', '{13}'));
SELECT candystore.append(pg_temp.env(13, 'backup.chain.stepped', '{}', '{10}'));
-- a purged parent leaves its id linked to its surviving child's group
SELECT candystore.append(pg_temp.env(20, 'backup.old.started', '{}', '{}', '1990-01-01T00:00:00Z'));
SELECT candystore.append(pg_temp.env(21, 'backup.old.stepped', '{}', '{20}'));
SELECT candystore.purge_events('20 years');

-- outbox: sent, failed and waiting, pending, replayed
SELECT candystore.publish(pg_temp.env(n, 'backup.item.published', jsonb_build_object('n', n)), rk)
  FROM (VALUES (30, 'backup.item.published'), (31, $k$it's "out"\$k$), (32, 'ü.out')) AS k(n, rk)
 ORDER BY n;
SELECT candystore.replay('2026-01-01', '2026-02-01', ARRAY['backup.chain.started']);
UPDATE candystore.outbox SET published_at = now(), attempts = 1 WHERE id = (SELECT min(id) FROM candystore.outbox);
UPDATE candystore.outbox SET attempts = 2, last_error = E'broker said "no"\n\\', next_attempt_at = now() + interval '1 hour'
 WHERE id = (SELECT min(id) + 1 FROM candystore.outbox);

-- dead letters, as the worker records them and odder
INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, headers, body)
VALUES ('invalid input syntax for type json', '22P02', $k$odd."key"\$k$,
        '{"x-ü": "日本", "quote\"d": "back\\slash", "": "", "nested": {"arr": [1, null, true, 1.5e300, "\u0001"]}}',
        '\x00'::bytea),
       ('invalid byte sequence for encoding "UTF8"', '22021', NULL, NULL, '\xc328fffe00ff'::bytea),
       ('empty body', '22P02', '', '{}', ''::bytea),
       ('nul bytes', '22P02', 'ü.日本', '{"x-death": [{"count": 3, "reason": "rejected"}]}', '\x7b00227a00'::bytea);
INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, body)
SELECT 'random bytes', '22P02', 'backup.random',
       decode(string_agg(lpad(to_hex((i * 7919 + 13) % 256), 2, '0'), '' ORDER BY i), 'hex')
  FROM generate_series(1, 65536) i;
UPDATE candystore.dead_letters SET redrive_attempts = 1, redriven_at = now(), position = 1
 WHERE id = (SELECT min(id) FROM candystore.dead_letters);
SQL

# What is compared: every row of every table (a table's shipped rows come
# with CREATE EXTENSION, so only the others), every sequence, every event as
# get_event() gives it back, and trace() of every event.
sub census
{
	my ($node) = @_;
	my %seen;
	my $tables = $node->safe_psql('store', q{
		SELECT c.relname, EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'builtin')
		  FROM pg_class c WHERE c.relnamespace = 'candystore'::regnamespace AND c.relkind IN ('r', 'p')
		 ORDER BY 1});
	for my $line (split /\n/, $tables)
	{
		my ($table, $has_builtin) = split /\|/, $line;
		my $where = $has_builtin eq 't' ? 'WHERE NOT builtin' : '';
		$seen{"table $table"} = $node->safe_psql('store',
			"SELECT count(*) || ' rows ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')"
			  . " FROM candystore.$table t $where");
		$seen{"shipped rows of $table"} = $node->safe_psql('store',
			"SELECT count(*) FROM candystore.$table WHERE builtin") if $has_builtin eq 't';
	}
	my $sequences = $node->safe_psql('store',
		q{SELECT relname FROM pg_class WHERE relnamespace = 'candystore'::regnamespace AND relkind = 'S' ORDER BY 1});
	for my $seq (split /\n/, $sequences)
	{
		$seen{"sequence $seq"} = $node->safe_psql('store', "SELECT last_value || '/' || is_called FROM candystore.$seq");
	}
	$seen{'get_event of every event'} = $node->safe_psql('store',
		q{SELECT string_agg(event_id || ' ' || md5(candystore.get_event(event_id)::text), E'\n' ORDER BY position)
		    FROM candystore.events});
	$seen{'trace of every event'} = $node->safe_psql('store', q{
		SELECT string_agg(e.event_id || ': ' || t.walk, E'\n' ORDER BY e.position)
		  FROM candystore.events e,
		       LATERAL (SELECT string_agg(x.event_id || '@' || x.depth || coalesce('=' || x.event_type, ''), ' '
		                                  ORDER BY x.depth, x.event_id) AS walk
		                  FROM candystore.trace(e.event_id) x) t});
	return \%seen;
}

# an API token (roles belong to the cluster: both have the role)
$_->safe_psql('store', 'CREATE ROLE backup_token_reader') for @nodes;
my $token = $src->safe_psql('store',
	q{SELECT candystore.create_api_token('backup_token_reader', now() + interval '1 day', 'kept by pg_dump')});

my $before = census($src);
like($before->{'table event_log'}, qr/^18 rows /, 'the dumped database holds the events');
like($before->{'table event_log_p6'}, qr/^5 rows /, 'in partitions');
like($before->{'table event_log_default'}, qr/^[1-9][0-9]* rows /, 'and the default partition');
like($before->{'table dead_letters'}, qr/^5 rows /, 'and the dead letters');
like($before->{'table schema_resources'}, qr/^1 rows /, 'and the resource a user added');
like($before->{'table causation_links'}, qr/^[1-9][0-9]* rows /, 'and causation links');
like($before->{'table outbox'}, qr/^4 rows /, 'and outbox rows');

my $dump = PostgreSQL::Test::Utils::tempdir() . '/store.dump';
$src->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $src->connstr('store')], 'pg_dump -Fc');
$dst->command_checks_all(
	['pg_restore', '--exit-on-error', '--single-transaction', '-d', $dst->connstr('store'), $dump],
	0, [qr/^$/], [qr/^$/], 'pg_restore into a fresh database of a second cluster, without an error or warning');
is($dst->safe_psql('store', q{SELECT extversion FROM pg_extension WHERE extname = 'candystore'}) ne '', 1,
	'pg_restore created the extension in the second cluster');

my $after = census($dst);
for my $what (sort keys %$before)
{
	is($after->{$what}, $before->{$what}, "restored: $what");
}
is(join(',', sort keys %$after), join(',', sort keys %$before), 'the restored database has the same tables and sequences');

# The restored store works on.
my $max = $dst->safe_psql('store', q{
	SELECT (SELECT max(position) FROM candystore.event_log) || ' ' ||
	       (SELECT max(id) FROM candystore.dead_letters) || ' ' ||
	       (SELECT max(id) FROM candystore.outbox)});
my ($max_position, $max_letter, $max_outbox) = split / /, $max;
my $next = $dst->safe_psql('store', <<'SQL');
SELECT candystore.publish('{"event_id": "b0000000-0000-4000-8000-000000000099", "event_type": "backup.item.added",
    "timestamp": "2026-02-01T00:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"},
    "payload": {"sku": "XYZ-9", "qty": 1}}', 'backup.after') AS position \gset
INSERT INTO candystore.dead_letters (reason, sqlstate, body) VALUES ('after', '22P02', '\x01') RETURNING id AS letter \gset
SELECT :position || ' ' || :letter || ' ' || (SELECT max(id) FROM candystore.outbox);
SQL
my ($next_position, $next_letter, $next_outbox) = split / /, $next;
cmp_ok($next_position, '>', $max_position, 'an append after the restore gets a position above the restored ones');
cmp_ok($next_letter, '>', $max_letter, 'a dead letter after the restore gets an id above the restored ones');
cmp_ok($next_outbox, '>', $max_outbox, 'an outbox row after the restore gets an id above the restored ones');

my ($rc, $out, $err) = $dst->psql('store', q{SELECT candystore.append('{"event_id": "b0000000-0000-4000-8000-000000000098", "event_type": "backup.item.added",
    "timestamp": "2026-02-01T00:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"},
    "payload": {"sku": "not a sku"}}')});
like($err, qr/invalid payload for event type "backup\.item\.added": \/payload\/sku/,
	'a registered schema still enforces, through the $ref to the resource a user added') or diag($err);
is($dst->safe_psql('store', q{SELECT candystore.register_schema('backup.item.added',
	'{"$id": "https://backup.example/item.added.v3.schema.json", "type": "object", "required": ["sku"],
	  "properties": {"sku": {"$ref": "https://backup.example/common/sku.json"}, "qty": {"type": "integer"},
	                 "note": {"type": "string"}, "color": {"type": "string"}}}')}),
	'3', 'registration continues with the next version');

# the purged parent, appended again, finds its surviving child
$dst->safe_psql('store', q{SELECT candystore.append('{"event_id": "b0000000-0000-4000-8000-000000000020", "event_type": "backup.old.started",
    "timestamp": "1990-01-01T00:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": {}}')});
is($dst->safe_psql('store', q{SELECT string_agg(event_id::text, ' ' ORDER BY depth) FROM candystore.descendants('b0000000-0000-4000-8000-000000000020')}),
	'b0000000-0000-4000-8000-000000000020 b0000000-0000-4000-8000-000000000021',
	'the restored causation links still lead a late parent to its child');

($rc, $out, $err) = $dst->psql('store', q{DELETE FROM candystore.event_log});
like($err, qr/candystore events are immutable/, 'restored events are immutable');
($rc, $out, $err) = $dst->psql('store', q{SET session_replication_role = replica; UPDATE candystore.event_log SET routing_key = 'x'});
like($err, qr/candystore events are immutable/, 'also in replica mode');

is($dst->safe_psql('store', "SET ROLE candystore_http; SELECT candystore.api_token_role('$token')"),
	'backup_token_reader', 'an API token created before the dump resolves to its role after the restore');

$_->stop for @nodes;
done_testing();
