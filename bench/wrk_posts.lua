-- Unique paths per request, for POST /image/post (each wrk thread its own prefix).
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("tid", next_thread)
end
local counter = 0
local tag = os.getenv("WRK_TAG") or tostring(os.time())
local token = os.getenv("WRK_TOKEN") or ""
function request()
  counter = counter + 1
  local body = '{"path": "bench-wrk/' .. tag .. '/' .. tostring(tid) .. '-' .. counter .. '.jpg"}'
  return wrk.format("POST", "/image/post", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
