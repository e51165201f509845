-- wrk script of bench/http.sh: POST /v1/events, each request a new
-- envelope (the thread's number and a counter make its event id), the same
-- envelope bench/http.sh appends through pgbench.
local threads = 0
local sent = 0
local pad = string.rep("x", 300)

function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
end

function init(args)
    run = os.time() % 0xffffffff
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    sent = sent + 1
    local id = string.format("%08x-%04x-4000-8000-%012d", run, thread_number, sent)
    return wrk.format(nil, "/v1/events", nil, '{"event_id": "' .. id .. '", "event_type": "bench.http", '
        .. '"timestamp": "2026-01-27T10:15:00Z", "version": "1.0.0", '
        .. '"source": {"host": "bench", "type": "webhook", "app": "bench", "meta": null}, '
        .. '"correlation_ids": [], "agent_context": null, '
        .. '"payload": {"title": "Team Standup", "pad": "' .. pad .. '"}}')
end
