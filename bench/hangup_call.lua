-- wrk script: HANGUP_CALL reports for the demo DID, XML-RPC and JSON, each
-- with its own IVR_UNIQUE_ID (so each 200 must be a new row in `cdrs`).
--
--   wrk ... -s bench/hangup_call.lua URL -- PREFIX [verify]
--
-- PREFIX: 8 hex chars, unique per run. verify: check that every answer is a
-- 200 with STATUS 0 (run it with -t1 -c1). done() prints a `BENCH ...` line.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

PLACEHOLDER = string.rep("@", 32)

local variants = {}
local counter = 0
local last
local checked, failures, first_failure = 0, 0, ""

local function xml_member(name, kind, value)
   return "        <member>\n          <name>" .. name .. "</name>\n          <value>\n            <" .. kind .. ">" ..
      value .. "</" .. kind .. ">\n          </value>\n        </member>\n"
end

local function body(enc, status, now)
   local duration, dial = 65, 12
   local start = now - duration - dial
   if enc == "json" then
      return string.format('{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","CALLER_ID":"0541234567",' ..
         '"IVR_UNIQUE_ID":"%s","TARGET":"0501234567","CALL_TIME_EPOCH":%d,"CALL_START_EPOCH":%d,' ..
         '"CALL_DURATION":%d,"CALL_DAILTIME":%d,"CALL_STATUS":"%s"}}',
         PLACEHOLDER, start, start + dial, duration, dial, status), { ["Content-Type"] = "application/json" }
   end
   return '<?xml version="1.0" encoding="utf-8"?>\n<methodCall>\n <methodName>HANGUP_CALL</methodName>\n' ..
      " <params>\n  <param>\n    <value>\n      <struct>\n" ..
      xml_member("DID", "string", "0730000000") .. xml_member("CALLER_ID", "string", "0541234567") ..
      xml_member("IVR_UNIQUE_ID", "string", PLACEHOLDER) .. xml_member("TARGET", "string", "0501234567") ..
      xml_member("CALL_TIME_EPOCH", "int", start) .. xml_member("CALL_START_EPOCH", "int", start + dial) ..
      xml_member("CALL_DURATION", "int", duration) .. xml_member("CALL_DAILTIME", "int", dial) ..
      xml_member("CALL_STATUS", "string", status) ..
      "      </struct>\n    </value>\n  </param>\n </params>\n</methodCall>\n", { ["Content-Type"] = "text/xml" }
end

function init(args)
   prefix = args[1]
   if args[2] == "verify" then
      response = check
   end
   local now = os.time()
   local rotation = {
      { "xml", "ANSWER" }, { "xml", "BUSY" }, { "json", "ANSWER" }, { "xml", "NOANSWER" },
      { "xml", "ANSWER" }, { "xml", "CANCEL" }, { "json", "NOANSWER" }, { "xml", "ANSWER" },
   }
   for _, v in ipairs(rotation) do
      local text, headers = body(v[1], v[2], now)
      -- The whole request, split around the id (always 32 bytes).
      local raw = wrk.format("POST", nil, headers, text)
      local at = raw:find(PLACEHOLDER, 1, true)
      table.insert(variants, { pre = raw:sub(1, at - 1), post = raw:sub(at + #PLACEHOLDER), enc = v[1] })
   end
end

function request()
   counter = counter + 1
   local v = variants[(counter - 1) % #variants + 1]
   last = v
   return v.pre .. string.format("%s%02d%022d", prefix, id, counter) .. v.post
end

-- verify mode, one connection: a response answers the latest request().
function check(status, headers, text)
   checked = checked + 1
   local ok = text:find(last.enc == "json" and '{"STATUS":0}' or "<name>STATUS</name><value><int>0</int>", 1, true)
   if status ~= 200 or not ok then
      failures = failures + 1
      if first_failure == "" then
         first_failure = string.format("%s: HTTP %d %s", last.enc, status, text:gsub("%s+", " "):sub(1, 300))
      end
   end
   wrk.thread:set("checked", checked)
   wrk.thread:set("failures", failures)
   wrk.thread:set("first_failure", first_failure)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
      "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
   for _, thread in ipairs(threads) do
      local checked = thread:get("checked")
      if checked then
         io.write(string.format("VERIFY checked=%d failures=%d first=%s\n",
            checked, thread:get("failures"), thread:get("first_failure")))
      end
   end
end
