// A candystore client as Candybar writes it: typed from the server's own
// /openapi.json (openapi-typescript generates ./generated/api.d.ts from the
// served document), plain fetch for the REST calls, the npm `eventsource`
// client for the live stream.  Nothing here is written by hand that the
// document already says: request and response types all come from `paths`.
import { EventSource } from "eventsource";
import type { paths } from "./generated/api";

// The JSON body of a response of an operation, by status.
type JsonBody<Op, Status extends number> = Op extends { responses: infer R }
    ? Status extends keyof R
        ? R[Status] extends { content: { "application/json": infer B } }
            ? B
            : never
        : never
    : never;
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type EventPage = JsonBody<paths["/v1/events"]["get"], 200>;
export type EventItem = EventPage["events"][number];
export type Envelope = JsonBody<paths["/v1/events/{event_id}"]["get"], 200>;
// An envelope as a producer writes it.  openapi-typescript 7.13 makes a
// schema's "$defs" a required property of the generated type
// (openapi-ts/openapi-typescript#2664, fix pending); "$defs" is never part
// of the data, so it is left out here.
export type NewEnvelope = Omit<Envelope, "$defs">;
// one envelope in, one result out; an array in, an array out
export type AppendResponse = JsonBody<paths["/v1/events"]["post"], 201>;
export type AppendResult = Exclude<AppendResponse, unknown[]>;
export type Trace = JsonBody<paths["/v1/events/{event_id}/trace"]["get"], 200>;
export type Relatives = JsonBody<paths["/v1/events/{event_id}/ancestors"]["get"], 200>;
export type SessionTimeline = JsonBody<paths["/v1/sessions/{session_id}/timeline"]["get"], 200>;
export type SchemaList = JsonBody<paths["/v1/schemas"]["get"], 200>;
export type Stats = JsonBody<paths["/v1/stats"]["get"], 200>;
export type HealthLive = JsonBody<paths["/health/live"]["get"], 200>;
export type HealthReady = JsonBody<paths["/health/ready"]["get"], 200>;
export type ListEventsQuery = QueryOf<paths["/v1/events"]["get"]>;
export type Problem = paths["/v1/events/{event_id}"]["get"]["responses"][404]["content"]["application/problem+json"];

/** A response that was not 2xx, with its RFC 9457 problem. */
export class CandystoreError extends Error {
    constructor(
        readonly status: number,
        readonly problem: Problem | null,
    ) {
        super(problem ? `${status} ${problem.title}${problem.detail ? ": " + problem.detail : ""}` : `HTTP ${status}`);
    }
}

export interface ClientOptions {
    baseUrl: string;
    token: string | null;
    /** the fetch to use (the contract tests pass one that checks every response) */
    fetch?: typeof fetch;
}

export interface StreamOptions {
    after?: string;
    /** only these event types (the server filters) */
    types?: string[];
    /** the SSE event names to listen for: events are named by their event type */
    listen: string[];
    /** resume after this cursor (sent as Last-Event-ID) */
    lastEventId?: string;
    onEvent: (item: EventItem, sseId: string, sseType: string) => void;
    onError?: (message: string) => void;
}

export function createClient(options: ClientOptions) {
    const doFetch = options.fetch ?? fetch;
    const base = options.baseUrl.replace(/\/$/, "");
    const authorization: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};

    async function request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
        const response = await doFetch(base + path, {
            method,
            headers: {
                Accept: "application/json",
                ...authorization,
                ...(body === undefined ? {} : { "Content-Type": "application/json" }),
                ...headers,
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await response.text();
        if (response.status === 304) return { status: 304, body: undefined as T, headers: response.headers };
        if (!response.ok) {
            let problem: Problem | null = null;
            try {
                problem = JSON.parse(text) as Problem;
            } catch {
                problem = null;
            }
            throw new CandystoreError(response.status, problem);
        }
        const type = response.headers.get("content-type") ?? "";
        return { status: response.status, body: (type.includes("json") ? JSON.parse(text) : text) as T, headers: response.headers };
    }

    const segment = encodeURIComponent;

    return {
        /** One page of the stream, in stream order; pass page.next back as `after`. */
        async listEvents(query: ListEventsQuery = {}): Promise<EventPage & { link: string | null }> {
            const params = new URLSearchParams();
            for (const [key, value] of Object.entries(query)) {
                if (value === undefined || value === null) continue;
                for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
            }
            const qs = params.toString();
            const r = await request<EventPage>("GET", "/v1/events" + (qs ? "?" + qs : ""));
            return { ...r.body, link: r.headers.get("link") };
        },

        /** Every event, following `next` to the end. */
        async listAllEvents(query: Omit<ListEventsQuery, "after"> = {}): Promise<EventItem[]> {
            const all: EventItem[] = [];
            let after: string | undefined = undefined;
            for (;;) {
                const page: EventPage = await this.listEvents({ ...query, ...(after === undefined ? {} : { after }) });
                all.push(...page.events);
                if (page.next === null || page.next === undefined) return all;
                after = page.next;
            }
        },

        /** The envelope exactly as stored; null when it is unchanged since `etag` (304). */
        async getEvent(eventId: string, etag?: string): Promise<{ envelope: Envelope | null; etag: string | null; cacheControl: string | null }> {
            const r = await request<Envelope>("GET", `/v1/events/${segment(eventId)}`, undefined, etag ? { "If-None-Match": etag } : {});
            return { envelope: r.status === 304 ? null : r.body, etag: r.headers.get("etag"), cacheControl: r.headers.get("cache-control") };
        },

        /** Appends one envelope: created (201) or an identical duplicate (200). */
        async appendEvent(envelope: NewEnvelope): Promise<{ status: number; result: AppendResult; location: string | null }> {
            const r = await request<AppendResponse>("POST", "/v1/events", envelope);
            if (Array.isArray(r.body)) throw new Error("one envelope was sent, an array of results came back");
            return { status: r.status, result: r.body, location: r.headers.get("location") };
        },

        /** Appends several envelopes in one transaction: all or none. */
        async appendEvents(envelopes: NewEnvelope[]): Promise<{ status: number; results: AppendResult[] }> {
            const r = await request<AppendResponse>("POST", "/v1/events", envelopes);
            if (!Array.isArray(r.body)) throw new Error("an array was sent, a single result came back");
            return { status: r.status, results: r.body };
        },

        /** Candybar's "events by session". */
        async getEventsBySession(sessionId: string): Promise<SessionTimeline["events"]> {
            const r = await request<SessionTimeline>("GET", `/v1/sessions/${segment(sessionId)}/timeline`);
            return r.body.events;
        },

        async getTrace(eventId: string): Promise<Trace> {
            return (await request<Trace>("GET", `/v1/events/${segment(eventId)}/trace`)).body;
        },

        async getTraceText(eventId: string, format: "mermaid" | "dot"): Promise<string> {
            const response = await doFetch(`${base}/v1/events/${segment(eventId)}/trace?format=${format}`, { headers: { ...authorization, Accept: "text/plain" } });
            const text = await response.text();
            if (!response.ok) throw new CandystoreError(response.status, null);
            return text;
        },

        async getAncestors(eventId: string): Promise<Relatives> {
            return (await request<Relatives>("GET", `/v1/events/${segment(eventId)}/ancestors`)).body;
        },

        async getDescendants(eventId: string, maxDepth?: number): Promise<Relatives> {
            const qs = maxDepth === undefined ? "" : `?max_depth=${maxDepth}`;
            return (await request<Relatives>("GET", `/v1/events/${segment(eventId)}/descendants${qs}`)).body;
        },

        async listSchemas(): Promise<SchemaList> {
            return (await request<SchemaList>("GET", "/v1/schemas")).body;
        },

        async getStats(): Promise<Stats> {
            return (await request<Stats>("GET", "/v1/stats")).body;
        },

        async live(): Promise<HealthLive> {
            return (await request<HealthLive>("GET", "/health/live")).body;
        },

        /** Ready (200) or not (503, with the reason): both answer a body. */
        async ready(): Promise<{ status: number; body: HealthReady }> {
            const response = await doFetch(`${base}/health/ready`, { headers: { ...authorization, Accept: "application/json" } });
            return { status: response.status, body: (await response.json()) as HealthReady };
        },

        /** The live stream: one EventSource; close() ends it. */
        stream(opts: StreamOptions): { close: () => void } {
            const qs = new URLSearchParams();
            if (opts.after !== undefined) qs.set("after", opts.after);
            for (const type of opts.types ?? []) qs.append("type", type);
            const source = new EventSource(`${base}/v1/stream${qs.toString() ? "?" + qs.toString() : ""}`, {
                // the browser EventSource cannot send headers; this client can
                fetch: (input, init) =>
                    doFetch(input, {
                        ...init,
                        headers: {
                            ...authorization,
                            ...(opts.lastEventId !== undefined ? { "Last-Event-ID": opts.lastEventId } : {}),
                            // on a reconnect the client sends its own, newer Last-Event-ID
                            ...(init?.headers ?? {}),
                        },
                    }),
            });
            const deliver = (type: string) => (e: MessageEvent) => opts.onEvent(JSON.parse(String(e.data)) as EventItem, e.lastEventId, type);
            for (const type of new Set([...opts.listen, ...(opts.types ?? [])])) source.addEventListener(type, deliver(type));
            source.addEventListener("message", deliver("message"));
            source.onerror = (e) => opts.onError?.(`${e.message ?? "stream error"}${e.code !== undefined ? ` (${e.code})` : ""}`);
            return { close: () => source.close() };
        },
    };
}

export type CandystoreClient = ReturnType<typeof createClient>;
