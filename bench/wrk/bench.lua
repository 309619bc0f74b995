-- The one wrk script of `make bench` (bench/run.sh).  Environment:
--   BENCH_MODE      tokens (rotate a token pool) | single (the pool's first token, repeated)
--                   | login (POST /login with correct credentials) | plain (no Authorization)
--   BENCH_PATH      request path (/profile)
--   BENCH_TOKENS    file with one token per line (tokens, single)
--   BENCH_EMAIL, BENCH_PASSWORD   credentials (login)
--   BENCH_DELAY_MS  when set, each connection waits this long between requests (a paced,
--                   open-ish load for latency figures instead of a saturating one)
-- done() prints one line "BENCHJSON {...}" that bench/bench.py reads.

local mode = os.getenv("BENCH_MODE") or "tokens"
local path = os.getenv("BENCH_PATH") or "/profile"
local requests_pool = {}
local next_index = 1

local function load_tokens(limit)
    local file = assert(io.open(assert(os.getenv("BENCH_TOKENS"), "BENCH_TOKENS unset"), "r"))
    local tokens = {}
    for line in file:lines() do
        if #line > 0 then
            tokens[#tokens + 1] = line
            if limit and #tokens >= limit then break end
        end
    end
    file:close()
    assert(#tokens > 0, "no tokens in BENCH_TOKENS")
    return tokens
end

function init(args)
    if mode == "tokens" or mode == "single" then
        local tokens = load_tokens(mode == "single" and 1 or nil)
        for i, token in ipairs(tokens) do
            requests_pool[i] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
        end
        -- Threads start at different places in the pool.
        next_index = math.random(#requests_pool)
    elseif mode == "login" then
        local body = string.format('{"email":"%s","password":"%s"}',
                                   assert(os.getenv("BENCH_EMAIL")), assert(os.getenv("BENCH_PASSWORD")))
        requests_pool[1] = wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
    else
        requests_pool[1] = wrk.format("GET", path)
    end
end

function request()
    local r = requests_pool[next_index]
    next_index = next_index + 1
    if next_index > #requests_pool then next_index = 1 end
    return r
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
    function delay() return delay_ms end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
        '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
        '"max_us":%d,"mean_us":%.1f}\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
        e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.max, latency.mean))
end
