-- wrk script: POST `{ __typename }` (the server's own ceiling for a GraphQL request).
local token = os.getenv("TOKEN")
request = function()
  return wrk.format("POST", "/graphql", {
    ["content-type"] = "application/json",
    ["authorization"] = "Bearer " .. token,
  }, '{"query":"{ __typename }"}')
end
