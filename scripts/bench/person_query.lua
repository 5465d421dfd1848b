-- wrk script: POST the `person` query for a random seeded person.
-- Expects `ids` (from seed_persons.py, loaded with dofile) and TOKEN in the environment.
dofile(os.getenv("IDS_LUA"))
local token = os.getenv("TOKEN")
local query = "query($id: String!) { person(id: $id) { id totalPix competences { code level pixScore } domains { code level } } }"
math.randomseed(os.time())

request = function()
  local id = ids[math.random(#ids)]
  local body = '{"query":"' .. query .. '","variables":{"id":"' .. id .. '"}}'
  return wrk.format("POST", "/graphql", {
    ["content-type"] = "application/json",
    ["authorization"] = "Bearer " .. token,
  }, body)
end

response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    io.stderr:write("bad response " .. status .. ": " .. body .. "\n")
    wrk.thread:stop()
  end
end
