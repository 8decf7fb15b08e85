-- wrk script: GET_IVR_ACTION steps of calls through the demo flow, rotated
-- from a steps file, each request with its own IVR_UNIQUE_ID.
--
--   wrk ... -s bench/ivr_action.lua URL -- STEPS_FILE PREFIX [LIMIT|verify]
--
-- PREFIX: 8 hex chars, unique per run. LIMIT: stop each thread after
-- LIMIT requests (wrk still waits out its -d). verify: check that every answer is a 200 with
-- STATUS 0 and the step's expected ACTION (run it with -t1 -c1).
-- done() prints one machine-readable `BENCH ...` line.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local steps = {}
local counter = 0
local limit = nil
local verify = false
-- verify mode, one connection: a response answers the latest request()
-- (wrk calls request() once more before the run, to check pipelining).
local last
local checked, failures, first_failure = 0, 0, ""

local XML_HEAD = [[<?xml version="1.0" encoding="utf-8"?>
<methodCall>
    <methodName>GET_IVR_ACTION</methodName>
    <params>
        <param>
            <value>
                <struct>
]]
local XML_TAIL = [[
                </struct>
            </value>
        </param>
    </params>
</methodCall>
]]

local function xml_member(name, value)
   local v = value == "" and "<string/>" or ("<string>" .. value .. "</string>")
   return "                    <member>\n                        <name>" .. name ..
      "</name>\n                        <value>" .. v .. "</value>\n                    </member>\n"
end

-- A step's body, split around the IVR_UNIQUE_ID: head .. id .. tail.
local function templates(enc, dtmf, menu, prev)
   if enc == "json" then
      local head = '{"METHOD":"GET_IVR_ACTION","DATA":{"DID":"0730000000","CALLER_ID":"0541234567",' ..
         '"CALLER_NAME":"Bench Caller","IVR_UNIQUE_ID":"'
      local tail = '","DTMF":"' .. dtmf .. '","MENU":"' .. menu .. '","PREVIOUS_MENU":"' .. prev .. '"}}'
      return head, tail, { ["Content-Type"] = "application/json" }
   end
   local head = XML_HEAD .. xml_member("DID", "0730000000") .. xml_member("CALLER_ID", "0541234567") ..
      xml_member("CALLER_NAME", "Bench Caller") ..
      "                    <member>\n                        <name>IVR_UNIQUE_ID</name>\n" ..
      "                        <value><string>"
   local tail = "</string></value>\n                    </member>\n" .. xml_member("DTMF", dtmf) ..
      xml_member("MENU", menu) .. xml_member("PREVIOUS_MENU", prev) .. XML_TAIL
   return head, tail, { ["Content-Type"] = "text/xml" }
end

PLACEHOLDER = string.rep("@", 32)

function init(args)
   for line in io.lines(args[1]) do
      if not line:match("^%s*#") and line:match("%S") then
         local enc, dtmf, menu, prev, expect = line:match("^(%a+)|([^|]*)|([^|]*)|([^|]*)|(%u+)%s*$")
         assert(enc, "bad line in " .. args[1] .. ": " .. line)
         local head, tail, headers = templates(enc, dtmf, menu, prev)
         -- The whole HTTP request, split around the id (always 32 bytes, so
         -- Content-Length is the same for every request of a step).
         local raw = wrk.format("POST", nil, headers, head .. PLACEHOLDER .. tail)
         local at = raw:find(PLACEHOLDER, 1, true)
         table.insert(steps, { pre = raw:sub(1, at - 1), post = raw:sub(at + #PLACEHOLDER),
                               expect = expect, enc = enc })
      end
   end
   prefix = args[2]
   if args[3] == "verify" then
      verify = true
      response = check
   elseif args[3] then
      limit = tonumber(args[3])
   end
end

function request()
   counter = counter + 1
   if limit and counter > limit then
      wrk.thread:stop()
   end
   local step = steps[(counter - 1) % #steps + 1]
   last = step
   -- 32 characters, like Voicenter's: run prefix, thread, counter.
   return step.pre .. string.format("%s%02d%022d", prefix, id, counter) .. step.post
end

function check(status, headers, body)
   local step = last
   checked = checked + 1
   local ok
   if step.enc == "json" then
      ok = body:find('"STATUS":0', 1, true) and body:find('"ACTION":"' .. step.expect .. '"', 1, true)
   else
      ok = body:find("<name>STATUS</name><value><int>0</int>", 1, true) and
         body:find("<name>ACTION</name><value><string>" .. step.expect .. "</string>", 1, true)
   end
   if status ~= 200 or not ok then
      failures = failures + 1
      if first_failure == "" then
         first_failure = string.format("%s step expecting %s: HTTP %d %s", step.enc, step.expect, status,
            body:gsub("%s+", " "):sub(1, 300))
      end
   end
   wrk.thread:set("checked", checked)
   wrk.thread:set("failures", failures)
   wrk.thread:set("first_failure", first_failure)
   wrk.thread:set("steps", #steps)
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
         io.write(string.format("VERIFY checked=%d failures=%d steps=%d first=%s\n",
            checked, thread:get("failures"), thread:get("steps"), thread:get("first_failure")))
      end
   end
end
