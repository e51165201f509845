#!/usr/bin/env python3
"""Runs the official JSON-Schema-Test-Suite through candystore's SQL functions.

usage: jsonschema-suite.py SUITE_DIR PSQL_ARGS...

Loads remotes/ under http://localhost:1234/ with add_schema_resource, runs
every test of drafts 4, 6, 7, 2019-09 and 2020-12 with jsonb_matches_schema,
and prints per draft the required, optional and optional/format counts.
Required tests run with format as an annotation (what those drafts' required
tests expect); optional/format tests with format asserted (our default).
Exit status 1 when a required test fails or optional/format passes < 95%.
"""
import csv, json, os, subprocess, sys, tempfile

DRAFTS = ['draft4', 'draft6', 'draft7', 'draft2019-09', 'draft2020-12']
# each directory's schemas are of its draft when they carry no $schema
DEFAULT = {'draft4': '4', 'draft6': '6', 'draft7': '7', 'draft2019-09': '2019-09', 'draft2020-12': '2020-12'}
suite, psql = sys.argv[1], sys.argv[2:]
work = tempfile.mkdtemp(prefix='jsonschema-suite-')
os.chmod(work, 0o755)

rows, meta, unrepresentable = [], {}, []
for draft in DRAFTS:
    base = os.path.join(suite, 'tests', draft)
    for dirpath, _, files in os.walk(base):
        for f in sorted(files):
            if not f.endswith('.json'):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), base)
            kind = 'format' if rel.startswith('optional/format/') else \
                   'optional' if rel.startswith('optional/') else 'required'
            for g in json.load(open(os.path.join(dirpath, f))):
                for t in g['tests']:
                    i = len(rows) + len(unrepresentable)
                    sch, dat = json.dumps(g['schema']), json.dumps(t['data'])
                    if '\\u0000' in sch or '\\u0000' in dat:
                        # jsonb cannot hold U+0000: such input never reaches us
                        unrepresentable.append((draft, kind))
                        continue
                    meta[i] = (draft, kind, rel, g['description'], t['description'], t['valid'])
                    rows.append((i, sch, dat,
                                 'on' if kind == 'format' else 'off', DEFAULT[draft]))

with open(os.path.join(work, 'tests.csv'), 'w', newline='') as fh:
    csv.writer(fh).writerows(rows)
os.chmod(os.path.join(work, 'tests.csv'), 0o644)

sql = ["\\set ON_ERROR_STOP 1", "SET client_min_messages = warning;"]
rdir = os.path.join(suite, 'remotes')
for dirpath, _, files in os.walk(rdir):
    for f in sorted(files):
        if f.endswith('.json'):
            uri = 'http://localhost:1234/' + os.path.relpath(os.path.join(dirpath, f), rdir)
            body = open(os.path.join(dirpath, f)).read()
            sql.append("SELECT candystore.add_schema_resource('%s', $rj$%s$rj$);" % (uri, body))
sql += [
    "CREATE TEMP TABLE suite (id int, schema jsonb, data jsonb, fa text, draft text);",
    "\\copy suite FROM '%s' WITH (FORMAT csv)" % os.path.join(work, 'tests.csv'),
    """CREATE FUNCTION pg_temp.chk(s jsonb, d jsonb, fa text, draft text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM set_config('candystore.jsonschema_format_assertion', fa, true);
    PERFORM set_config('candystore.jsonschema_default_draft', draft, true);
    RETURN candystore.jsonb_matches_schema(s, d)::text;
EXCEPTION WHEN others THEN
    RETURN 'error: ' || replace(SQLERRM, E'\\n', ' ');
END $f$;""",
    "\\pset format unaligned", "\\pset tuples_only on", "\\pset fieldsep '\\t'",
    "SELECT id, pg_temp.chk(schema, data, fa, draft) FROM suite ORDER BY id;",
]
with open(os.path.join(work, 'run.sql'), 'w') as fh:
    fh.write("\n".join(sql) + "\n")
os.chmod(os.path.join(work, 'run.sql'), 0o644)

out = subprocess.run(psql + ['-X', '-q', '-f', os.path.join(work, 'run.sql')],
                     capture_output=True, text=True)
if out.returncode != 0:
    sys.stderr.write(out.stderr)
    sys.exit(2)

counts, failures = {}, []
seen = set()
for line in out.stdout.splitlines():
    if '\t' not in line:
        continue
    i, res = line.split('\t', 1)
    i = int(i)
    seen.add(i)
    draft, kind, rel, gd, td, valid = meta[i]
    ok = res == str(valid).lower()
    c = counts.setdefault((draft, kind), [0, 0])
    c[0 if ok else 1] += 1
    if not ok:
        failures.append('%s %s [%s] %s / %s: expected %s, got %s' % (draft, kind, rel, gd, td, valid, res))
for i in meta:
    if i not in seen:
        failures.append('%s: no result' % (meta[i],))
        counts.setdefault((meta[i][0], meta[i][1]), [0, 0])[1] += 1

log = os.environ.get('JSONSCHEMA_SUITE_LOG', os.path.join(work, 'failures.txt'))
with open(log, 'w') as fh:
    fh.write("\n".join(failures) + "\n")

bad = False
print('%-14s %20s %20s %20s' % ('draft', 'required pass/fail', 'optional pass/fail', 'format pass/fail'))
for d in DRAFTS:
    cells = []
    for k in ('required', 'optional', 'format'):
        p, f = counts.get((d, k), [0, 0])
        cells.append('%d/%d' % (p, f))
        if k == 'required' and f:
            bad = True
        if k == 'format' and p + f and p < 0.95 * (p + f):
            bad = True
    print('%-14s %20s %20s %20s' % (d, *cells))
for d, k in sorted(set(unrepresentable)):
    print('%s %s: %d tests not run (they contain U+0000, which jsonb cannot store)'
          % (d, k, unrepresentable.count((d, k))))
print('failures listed in %s' % log)
sys.exit(1 if bad else 0)
