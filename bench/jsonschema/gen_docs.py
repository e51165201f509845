#!/usr/bin/env python3
# Writes N seed-like fireflies.transcript.ready envelopes, one JSON per line.
import json, random, sys, uuid
n = int(sys.argv[1])
random.seed(42)
for i in range(n):
    sentences = [{"index": k, "speaker": random.choice(["Alice", "Bob", "Carol"]),
                  "text": "sentence %d of meeting %d about the event store" % (k, i),
                  "start": k * 4.5, "end": k * 4.5 + 4.0} for k in range(8)]
    print(json.dumps({
        "event_id": str(uuid.UUID(int=random.getrandbits(128), version=4)),
        "event_type": "fireflies.transcript.ready",
        "timestamp": "2026-01-27T10:%02d:%02d.123456Z" % (i % 60, (i * 7) % 60),
        "version": "1.0.0",
        "source": {"host": "bigchungus", "type": "webhook", "app": "fireflies", "meta": None},
        "correlation_ids": [str(uuid.UUID(int=random.getrandbits(128), version=4))],
        "agent_context": None,
        "payload": {"id": "ff_%d" % i, "title": "Weekly sync %d" % i, "duration_seconds": 1800.5,
                    "participants": ["alice@example.com", "bob@example.org"],
                    "sentences": sentences}}))
