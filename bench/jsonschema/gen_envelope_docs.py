#!/usr/bin/env python3
# Writes N envelopes of github.pull_request.opened events (about 1 KB each),
# one JSON per line, valid against envelope_schema.json: the shape where
# patterns and formats are on nearly every string.
import json, random, sys, uuid
n = int(sys.argv[1])
random.seed(7)
uid = lambda: str(uuid.UUID(int=random.getrandbits(128), version=4))
sha = lambda: '%040x' % random.getrandbits(160)
logins = ['alice', 'bob-b', 'carol99', 'dave-ops', 'erin', 'frank-x']
labels = ['bug', 'enhancement', 'area:store', 'area:worker', 'needs-review', 'p1']
for i in range(n):
    print(json.dumps({
        "event_id": uid(),
        "event_type": "github.pull_request.opened",
        "timestamp": "2026-01-27T10:%02d:%02d.%06dZ" % (i % 60, (i * 7) % 60, i % 1000000),
        "version": "1.%d.0" % (i % 4),
        "source": {"host": "ci.bigchungus.local", "type": "webhook", "app": "github", "meta": None},
        "correlation_ids": [uid() for _ in range(1 + i % 4)],
        "agent_context": {"agent_id": uid(), "session_id": uid(), "model": "reviewer"} if i % 3 == 0 else None,
        "payload": {
            "repository": "33god/candystore",
            "number": 1000 + i,
            "title": "Pull request %d: make the envelope checks faster" % i,
            "author": random.choice(logins),
            "head": {"ref": "feature/pr-%d" % i, "sha": sha()},
            "base": {"ref": "main", "sha": sha()},
            "created_at": "2026-01-27T09:%02d:%02dZ" % (i % 60, (i * 11) % 60),
            "labels": random.sample(labels, 1 + i % 3),
            "reviewers": random.sample(logins, 2),
            "draft": i % 5 == 0,
            "commits": [{"sha": sha(), "message": "commit %d of pull request %d" % (k, i)}
                        for k in range(1 + i % 3)]}}))
