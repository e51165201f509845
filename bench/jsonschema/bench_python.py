#!/usr/bin/env python3
# python-jsonschema (Debian python3-jsonschema), documents already parsed.
import json, sys, time, statistics
import jsonschema
schema = json.load(open(sys.argv[1]))
docs = [json.loads(l) for l in open(sys.argv[2])]
runs = int(sys.argv[3])
cls = jsonschema.validators.validator_for(schema)
v = cls(schema, format_checker=cls.FORMAT_CHECKER if hasattr(cls, 'FORMAT_CHECKER') else jsonschema.FormatChecker())
rates = []
for _ in range(runs):
    t0 = time.perf_counter()
    ok = sum(1 for d in docs if v.is_valid(d))
    s = time.perf_counter() - t0
    assert ok == len(docs), ok
    rates.append(len(docs) / s)
print('%.0f' % statistics.median(rates))
