-- wrk script: POST recordKnowledgeElements, one element, for a random seeded person.
-- Expects `ids` (from seed_persons.py, loaded with dofile) and TOKEN in the environment.
-- Counts answers that are not 200 with data ("errors" in the body) and prints them at the end.
dofile(os.getenv("IDS_LUA"))
local token = os.getenv("TOKEN")
local query = "mutation($i: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $i) { position } }"
local competences = {"1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2", "4.3", "5.1", "5.2"}
local counter = 0
local errors = 0
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

request = function()
  counter = counter + 1
  local id = ids[math.random(#ids)]
  local c = math.random(#competences)
  -- The skill belongs to its competence (a skill id encodes it), as in Pix.
  local skill = "@w" .. competences[c] .. "-" .. math.random(1000)
  local body = '{"query":"' .. query .. '","variables":{"i":{"person":"' .. id ..
    '","source":{"kind":"CAMPAIGN","campaignCode":"LOAD"},"elements":[{"competence":"' ..
    competences[c] .. '","skill":"' .. skill .. '","status":"VALIDATED","earnedPix":1.5}]}}}'
  return wrk.format("POST", "/graphql", {
    ["content-type"] = "application/json",
    ["authorization"] = "Bearer " .. token,
  }, body)
end

response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if errors <= 3 then io.stderr:write("bad response " .. status .. ": " .. body .. "\n") end
  end
end

done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("errors") or 0)
  end
  io.write("graphql-errors " .. total .. "\n")
end
