-- wrk script: POST an ACR push whose id is unique per request (mode "unique"), the same body
-- every time (mode "duplicate"), or an ACR ping (mode "ignored"). Prints one JSON summary line.
local mode = os.getenv("BENCH_MODE") or "unique"
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN") or "0"
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid or 0
end

local function body(id)
  if mode == "ignored" then
    return '{"id":"' .. id .. '","timestamp":"2026-11-20T10:00:00Z","action":"ping"}'
  end
  return '{"id":"' .. id .. '","timestamp":"2026-11-20T10:00:00Z","action":"push",' ..
    '"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":524,' ..
    '"digest":"sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d",' ..
    '"repository":"bench/app","tag":"v1"},' ..
    '"request":{"id":"r","host":"bench.azurecr.io","method":"PUT"}}'
end

request = function()
  counter = counter + 1
  local id = "dup-1"
  -- BENCH_RUN keeps ids unique across wrk runs against the same gateway (Lua's random repeats).
  if mode ~= "duplicate" then id = "b-" .. run .. "-" .. thread_id .. "-" .. counter .. "-" .. math.random(1, 1e9) end
  return wrk.format("POST", "/events", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body(id))
end

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50ms":%.2f,"p99ms":%.2f,"maxms":%.2f,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    non2xx))
end

