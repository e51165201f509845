-- wrk script of bench/http.sh: GET /v1/events/{id} of a random one of the
-- BENCH_EVENTS stored events (ids b0000000-0000-4000-8000-<i, 12 digits>).
local events = tonumber(os.getenv("BENCH_EVENTS"))
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
end

function init(args)
    math.randomseed(os.time() * 1000 + thread_number)
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end

function request()
    return wrk.format("GET", string.format("/v1/events/b0000000-0000-4000-8000-%012d", math.random(1, events)))
end
