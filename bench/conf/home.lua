-- GET /home?user=ID for the nginx-lua peer (nginx-lua.conf.in).
-- The three backend calls go out together as subrequests; the answer is the five
-- latest news, the first five events and the user's vacation balance, each object
-- cut down to the fields the home page shows.
local cjson = require "cjson.safe"

local NEWS_FIELDS = { "id", "title", "url", "published" }
local EVENT_FIELDS = { "id", "name", "starts", "location" }
local TOP = 5

local function answer(status, body)
    ngx.status = status
    ngx.header.content_length = #body
    ngx.print(body)
end

local function pick(list, key, newest_first, fields)
    -- A malformed backend document must give 502, not a Lua error: check first.
    if type(list) ~= "table" then return nil end
    for i = 1, #list do
        if type(list[i]) ~= "table" or type(list[i][key]) ~= "string" then return nil end
    end
    if newest_first then
        table.sort(list, function(a, b) return a[key] > b[key] end)
    else
        table.sort(list, function(a, b) return a[key] < b[key] end)
    end
    local out = {}
    for i = 1, math.min(TOP, #list) do
        local o = {}
        for _, f in ipairs(fields) do o[f] = list[i][f] end
        out[i] = o
    end
    return out
end

local user = ngx.var.arg_user
if not user or not user:find("^%d+$") or #user > 9 then
    return answer(400, '{"error":"user must be a decimal integer"}')
end

local rn, re, rh = ngx.location.capture_multi({
    { "/_news" }, { "/_events" }, { "/_hr", { args = { id = user } } },
})
for _, r in ipairs({ rn, re, rh }) do
    if r.status == 504 then return answer(504, '{"error":"backend timeout"}') end
    if r.status ~= 200 then return answer(502, '{"error":"backend failed"}') end
end

local news, events, hr = cjson.decode(rn.body), cjson.decode(re.body), cjson.decode(rh.body)
local n5 = type(news) == "table" and pick(news.items, "published", true, NEWS_FIELDS)
local e5 = type(events) == "table" and pick(events.events, "starts", false, EVENT_FIELDS)
if not n5 or not e5 or type(hr) ~= "table" or type(hr.balance_days) ~= "number" then
    return answer(502, '{"error":"malformed backend answer"}')
end

answer(200, cjson.encode({
    news = n5,
    events = e5,
    cards = { vacation = { balance_days = hr.balance_days } },
}))
