// The contract run: the Candybar-style client against a running
// candystore-http holding the demo's sample flow (t/http_contract.pl sets
// it up).  Every response the client receives goes through the checker
// against the served document.  Prints one line per check, "ok - ..." or
// "not ok - ... # why", which the TAP test turns into its own tests.
//   env: CS_HTTP_URL, CS_WRITER_TOKEN, CS_READER_TOKEN, CS_SAMPLE_FLOW (demo/sample-flow.jsonl),
//        CS_OPENAPI (the served document, saved by the test)
import { readFileSync } from "node:fs";
import { ContractChecker } from "./checker";
import { AppendResult, CandystoreClient, CandystoreError, createClient, Envelope, EventItem, NewEnvelope } from "./client";

function env(name: string): string {
    const v = process.env[name];
    if (v === undefined || v === "") throw new Error(`${name} is not set`);
    return v;
}

const baseUrl = env("CS_HTTP_URL");
const document = JSON.parse(readFileSync(env("CS_OPENAPI"), "utf8")) as { [key: string]: never };
const flow = readFileSync(env("CS_SAMPLE_FLOW"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Envelope & { event_id: string; event_type: string; correlation_ids?: string[]; payload: { session_id?: string } });

const checker = new ContractChecker(document);
let failures = 0;
const contractProblems: string[] = [];

function report(ok: boolean, what: string, why = ""): void {
    if (!ok) failures++;
    console.log(`${ok ? "ok" : "not ok"} - ${what}${!ok && why ? " # " + why.replace(/\n/g, " ") : ""}`);
}

// fetch that checks every response against the document before the client sees it
const checkingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const contentType = response.headers.get("content-type");
    const streaming = (contentType ?? "").startsWith("text/event-stream");
    // the stream's body never ends: its events are checked one by one below
    const body = streaming ? "" : await response.clone().text();
    const problems = checker.check({ method: init?.method ?? "GET", url, status: response.status, contentType, body });
    if (problems.length > 0) contractProblems.push(...problems.map((p) => `${init?.method ?? "GET"} ${url.pathname}${url.search}: ${p}`));
    return response;
};

function client(token: string | null): CandystoreClient {
    return createClient({ baseUrl, token, fetch: checkingFetch });
}

async function expectError(what: string, status: number, sqlstate: string | null, call: () => Promise<unknown>): Promise<void> {
    try {
        await call();
        report(false, what, `succeeded, expected ${status}`);
    } catch (e) {
        if (!(e instanceof CandystoreError)) {
            report(false, what, String(e));
            return;
        }
        const okStatus = e.status === status;
        const okState = sqlstate === null || (e.problem?.sqlstate ?? "").startsWith(sqlstate);
        report(okStatus && okState && e.problem !== null && e.problem.status === status, what,
            `got ${e.status} ${JSON.stringify(e.problem)}`);
    }
}

function eventTypes(items: { event_type?: string }[]): string[] {
    return [...new Set(items.map((i) => i.event_type ?? ""))];
}

async function streamUntil(c: CandystoreClient, opts: { after?: string; lastEventId?: string; types?: string[]; listen: string[] }, want: number, timeoutMs: number):
    Promise<{ items: { item: EventItem; id: string; type: string }[]; errors: string[] }> {
    return new Promise((resolve) => {
        const items: { item: EventItem; id: string; type: string }[] = [];
        const errors: string[] = [];
        const done = () => {
            clearTimeout(timer);
            s.close();
            resolve({ items, errors });
        };
        const timer = setTimeout(done, timeoutMs);
        const s = c.stream({
            ...opts,
            onEvent: (item, id, type) => {
                for (const p of checker.checkValue("/components/schemas/EventItem", item)) contractProblems.push(`stream event ${id}: ${p}`);
                items.push({ item, id, type });
                if (items.length >= want) done();
            },
            onError: (m) => errors.push(m),
        });
    });
}

// runs one part; an exception fails that part only
async function step(what: string, part: () => Promise<void>): Promise<void> {
    try {
        await part();
    } catch (e) {
        report(false, what, e instanceof Error ? e.message : String(e));
    }
}

async function main(): Promise<void> {
    // the checker is not vacuous: a wrong body, an undocumented status and a
    // wrong media type are each caught
    const url = new URL(baseUrl + "/v1/events");
    const wrongBody = checker.check({ method: "GET", url, status: 200, contentType: "application/json", body: '{"events": "none", "next": 7}' });
    const wrongStatus = checker.check({ method: "GET", url, status: 418, contentType: "application/json", body: "{}" });
    const wrongType = checker.check({ method: "GET", url, status: 200, contentType: "text/html", body: "<p>" });
    report(wrongBody.length > 0 && wrongStatus.length > 0 && wrongType.length > 0,
        "the checker refuses a wrong body, an undocumented status and a wrong media type", JSON.stringify([wrongBody, wrongStatus, wrongType]));
    checker.checked = 0;

    const writer = client(env("CS_WRITER_TOKEN"));
    const reader = client(env("CS_READER_TOKEN"));
    const anonymous = client(null);

    // reading the stream page by page, in stream order
    const pages: number[] = [];
    let after: string | undefined;
    const all: EventItem[] = [];
    for (;;) {
        const page = await reader.listEvents({ limit: 2, ...(after === undefined ? {} : { after }) });
        pages.push(page.events.length);
        all.push(...page.events);
        if (page.next !== null && page.next !== undefined)
            report(page.link !== null && page.link.includes("rel=\"next\"") && page.link.includes(encodeURIComponent(page.next).replace(/%2D/g, "-")) , `page ${pages.length} has a Link rel="next" to its next cursor`, String(page.link));
        if (page.next === null || page.next === undefined || page.events.length === 0) break;
        after = page.next;
    }
    report(all.length === flow.length, `listEvents pages through all ${flow.length} events of the sample flow (pages of ${pages.join(", ")})`, `got ${all.length}`);
    report(all.every((e, i) => i === 0 || e.position > (all[i - 1]?.position ?? Infinity)), "listEvents returns stream order");
    report(JSON.stringify(all.map((e) => (e.event as { event_id: string }).event_id)) === JSON.stringify(flow.map((e) => e.event_id)),
        "the events come back in the order they were appended");

    const firstType = flow[0]!.event_type;
    const typed = await reader.listEvents({ type: [firstType] });
    report(typed.events.length > 0 && typed.events.every((e) => (e.event as { event_type: string }).event_type === firstType),
        "listEvents filters by type");

    // each event exactly as stored, cacheable
    for (const e of flow) {
        const got = await reader.getEvent(e.event_id);
        report(JSON.stringify(got.envelope) === JSON.stringify(all.find((i) => (i.event as { event_id: string }).event_id === e.event_id)?.event),
            `getEvent ${e.event_type} returns the envelope the stream returned`);
        report(got.etag !== null && (got.cacheControl ?? "").includes("immutable"), `getEvent ${e.event_type} has an ETag and Cache-Control: immutable`,
            `${got.etag} ${got.cacheControl}`);
        if (got.etag !== null) {
            const again = await reader.getEvent(e.event_id, got.etag);
            report(again.envelope === null, `getEvent ${e.event_type} with If-None-Match is 304`);
        }
    }

    // Candybar's "events by session"
    const session = flow.map((e) => e.payload.session_id).find((s) => s !== undefined)!;
    const timeline = await reader.getEventsBySession(session);
    const inSession = flow.filter((e) => e.payload.session_id === session).map((e) => e.event_id);
    report(JSON.stringify(timeline.map((t) => t.event_id)) === JSON.stringify(inSession),
        `getEventsBySession(${session}) returns the session's ${inSession.length} events in order`, JSON.stringify(timeline.map((t) => t.event_id)));
    report((await reader.getEventsBySession("no-such-session")).length === 0, "getEventsBySession of an unknown session is empty");

    // following a trace: from the last event back to the root and out to every node
    const leaf = flow[flow.length - 1]!;
    const trace = await reader.getTrace(leaf.event_id);
    const reached = new Set<string>([trace.root]);
    const root = trace.nodes.find((n) => n.depth === 0);
    if (root !== undefined) {
        const frontier = [root.event_id];
        reached.add(root.event_id);
        while (frontier.length > 0) {
            const from = frontier.pop()!;
            for (const edge of trace.edges.filter((x) => x.from === from))
                if (!reached.has(edge.to)) {
                    reached.add(edge.to);
                    frontier.push(edge.to);
                }
        }
    }
    report(trace.root === leaf.event_id, "getTrace names the event asked for as its root");
    report(trace.nodes.length === flow.length && trace.nodes.every((n) => reached.has(n.event_id)),
        `following the trace's edges from its depth-0 node reaches all ${trace.nodes.length} nodes`);
    report(trace.edges.every((x) => flow.find((e) => e.event_id === x.to)?.correlation_ids?.includes(x.from) === true),
        "every trace edge goes from a parent to a child that names it");
    const mermaid = await reader.getTraceText(leaf.event_id, "mermaid");
    const dot = await reader.getTraceText(leaf.event_id, "dot");
    report(/^(graph|flowchart)\b/m.test(mermaid) && /digraph/.test(dot), "the trace renders as mermaid and dot text");
    const ancestors = await reader.getAncestors(leaf.event_id);
    const descendants = await reader.getDescendants(flow[0]!.event_id, 1);
    report(ancestors.events.length > 0 && ancestors.events.every((a) => a.event_id !== leaf.event_id || a.depth === 0), "getAncestors returns the leaf's ancestors");
    report(descendants.events.every((d) => d.depth <= 1), "getDescendants honours max_depth");

    // appending, as a writer: created, then an identical duplicate, then a conflict
    // an envelope written as a producer writes one: the generated type must
    // take it as it is (a compile-time part of the contract)
    const fresh: NewEnvelope = {
        event_id: "c0de0000-0000-4000-8000-000000000001",
        event_type: flow[0]!.event_type,
        timestamp: "2026-01-27T10:00:00.000000Z",
        version: "1.0.0",
        source: { host: "candybar", type: "manual", app: "contract-test", meta: null },
        correlation_ids: [],
        agent_context: null,
        payload: { ...flow[0]!.payload, title: "contract" },
    };
    const created = await writer.appendEvent(fresh);
    report(created.status === 201 && created.location !== null && created.location.includes(String((fresh as { event_id: string }).event_id)),
        "appendEvent stores a new envelope: 201 with Location", JSON.stringify(created));
    const duplicate = await writer.appendEvent(fresh);
    const sameStored = (a: AppendResult, b: AppendResult) => a.event_id === b.event_id && a.position === b.position && a.cursor === b.cursor;
    report(duplicate.status === 200 && sameStored(duplicate.result, created.result), "appending it again is 200 with the same id, position and cursor",
        JSON.stringify(duplicate));
    await expectError("a different envelope under a stored id is 409 (23505)", 409, "23505",
        () => writer.appendEvent({ ...fresh, payload: { other: true } }));
    await expectError("a malformed envelope is 422 (class 22)", 422, "22",
        () => writer.appendEvent({ ...fresh, event_id: "c0de0000-0000-4000-8000-000000000002", timestamp: "yesterday" }));
    await expectError("a reader token cannot append: 403 (42501)", 403, "42501",
        () => reader.appendEvent({ ...fresh, event_id: "c0de0000-0000-4000-8000-000000000003" }));

    const batch = await writer.appendEvents([
        { ...fresh, event_id: "c0de0000-0000-4000-8000-000000000004" },
        { ...fresh, event_id: "c0de0000-0000-4000-8000-000000000005" },
    ]);
    report(batch.status === 201 && batch.results.length === 2 && batch.results[1]!.position > batch.results[0]!.position,
        "appendEvents: an array in, an array of results out, in order", JSON.stringify(batch));
    await expectError("an array with one refused envelope is 422 and stores none of it", 422, "22",
        () => writer.appendEvents([{ ...fresh, event_id: "c0de0000-0000-4000-8000-000000000006" }, { ...fresh, event_id: "c0de0000-0000-4000-8000-000000000007", version: "one" }]));
    await expectError("... so its first envelope is unknown afterwards", 404, null, () => reader.getEvent("c0de0000-0000-4000-8000-000000000006"));

    // errors are problems, each documented
    await expectError("an unknown event id is 404", 404, null, () => reader.getEvent("c0de0000-0000-4000-8000-0000000000ff"));
    await expectError("a malformed event id is 400", 400, null, () => reader.getEvent("not-a-uuid"));
    await expectError("a malformed cursor is 400", 400, null, () => reader.listEvents({ after: "garbage" }));
    await expectError("no token is 401", 401, null, () => anonymous.listEvents());
    await expectError("an unknown token is 401", 401, null, () => client("cs_" + "A".repeat(43)).listEvents());

    // the rest of the read API
    const schemas = await reader.listSchemas();
    report(schemas.schemas.length > 0, `listSchemas lists ${schemas.schemas.length} event types`);
    await step("getStats", async () => void (await reader.getStats()));
    await step("/health/ready", async () => {
        const r = await reader.ready();
        report(r.status === 200 || r.status === 503, `/health/ready answers ${r.status} with its checks`, JSON.stringify(r.body));
    });
    await step("/health/live answers without a token", async () => report((await anonymous.live()).status === "ok", "/health/live answers without a token"));

    // the live stream with the npm eventsource client: from a cursor, then a
    // new event arrives live, then a reconnect with Last-Event-ID misses and repeats nothing
    const listen = [...new Set([...eventTypes(flow), ...schemas.schemas.map((s) => s.event_type)])];
    const from = all[1]!;
    const live = { ...fresh, event_id: "c0de0000-0000-4000-8000-000000000010" };
    // what was stored after `from` so far, in stream order, then the live one
    const stored = (await reader.listAllEvents({})).map((e) => (e.event as { event_id: string }).event_id);
    const expected = [...stored.slice(2), (live as { event_id: string }).event_id];
    const firstRun = streamUntil(reader, { after: from.cursor, listen }, expected.length, 15000);
    setTimeout(() => void writer.appendEvent(live).catch((e: unknown) => report(false, "append while streaming", String(e))), 1000);
    const got = await firstRun;
    const ids = got.items.map((x) => (x.item.event as { event_id: string }).event_id);
    report(JSON.stringify(ids) === JSON.stringify(expected), `the stream from a cursor delivers the ${expected.length} later events in order, the live one included`,
        `got ${JSON.stringify(ids)} errors ${JSON.stringify(got.errors)}`);
    report(got.items.every((x) => x.id === x.item.cursor && x.type === (x.item.event as { event_type: string }).event_type),
        "each SSE event's id is its cursor and its name its event type");
    const last = got.items[got.items.length - 1];
    if (last !== undefined) {
        const resumedEvent = { ...fresh, event_id: "c0de0000-0000-4000-8000-000000000011" };
        const resumed = streamUntil(reader, { lastEventId: last.id, after: all[0]!.cursor, listen }, 1, 15000);
        setTimeout(() => void writer.appendEvent(resumedEvent).catch(() => undefined), 1000);
        const r = await resumed;
        report(r.items.length === 1 && (r.items[0]!.item.event as { event_id: string }).event_id === (resumedEvent as { event_id: string }).event_id,
            "reconnecting with Last-Event-ID (which wins over after) delivers only what came since", JSON.stringify(r.items.map((x) => x.id)));
    }

    const filtered = await streamUntil(reader, { after: all[0]!.cursor, types: [leaf.event_type], listen }, 1, 15000);
    report(filtered.items.length === 1 && filtered.items[0]!.type === leaf.event_type,
        `a stream of type=${leaf.event_type} after the first event delivers that type first`, JSON.stringify(filtered.items.map((x) => x.type)));

    report(contractProblems.length === 0, `every one of the ${checker.checked} responses and stream events received conforms to the served document`,
        contractProblems.slice(0, 20).join(" | "));
    console.log(`# responses and values checked: ${checker.checked}`);
}

main()
    .catch((e: unknown) => report(false, "the contract run completes", e instanceof Error ? e.stack ?? e.message : String(e)))
    .finally(() => process.exit(failures === 0 ? 0 : 1));
