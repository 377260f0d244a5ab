-- wrk script of scripts/bench.sh: every request is a real, authenticated
-- heartbeat of the next proxy of the fleet the load tool registered
-- (lt0000000, lt0000001, ...), from that proxy's own address in
-- 11.0.0.0/8 as X-Forwarded-For (the hub trusts 127.0.0.1), so no IP
-- changes: the steady state of a fleet. Each wrk thread starts at its own
-- offset in the fleet.
--
--   TOKEN=phb_... PROXIES=100000 wrk -s scripts/bench/heartbeat.lua URL
local token = os.getenv("TOKEN")
local proxies = tonumber(os.getenv("PROXIES") or "100000")
local threads = 0
local next_proxy = 0

function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end

function init(args)
  next_proxy = (first or 0) * 7919 % proxies
end

function request()
  local i = next_proxy
  next_proxy = (next_proxy + 1) % proxies
  local ip = string.format("11.%d.%d.%d", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
  return wrk.format("GET", string.format("/proxy_server?name=lt%07d", i),
    { ["Authorization"] = "Bearer " .. token, ["X-Forwarded-For"] = ip })
end
