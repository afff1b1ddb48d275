import type { AlgorithmName } from './algorithms.js'

/**
 * The algorithms of algorithms.ts as Redis Lua scripts: the same arithmetic in the same order,
 * so a Redis-backed gateway and an in-memory one give the same verdicts.
 *
 * One script call checks every limit of a request atomically (EVALSHA, one round trip) and
 * consumes all or nothing. Interface:
 *   KEYS[i]                 the key of check i (all share one hash tag, so a cluster slot)
 *   ARGV[1]                 now in ms, or '' to read Redis TIME (production: one clock for every
 *                           gateway replica; tests pass a fake clock)
 *   ARGV[2 + 4(i-1) ..]     requests, periodMs, burst, cost of check i
 * Reply: 5 integers per check: allowed (0/1), limit, remaining, resetMs, retryAfterMs.
 * State is a hash {a, b} with a PEXPIRE at the moment it would equal a fresh state.
 */

const PROLOGUE = `
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(x) return string.format('%.17g', x) end
local out, writes, ok = {}, {}, true
for i = 1, #KEYS do
  local base = 2 + (i - 1) * 4
  local requests = tonumber(ARGV[base])
  local period = tonumber(ARGV[base + 1])
  local burst = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local saved = redis.call('HMGET', KEYS[i], 'a', 'b')
  local a, b = tonumber(saved[1]), tonumber(saved[2])
  local allowed, limit, remaining, reset, retry, na, nb, ttl
`

const EPILOGUE = `
  if not allowed then ok = false end
  out[#out + 1] = allowed and 1 or 0
  out[#out + 1] = limit
  out[#out + 1] = remaining
  out[#out + 1] = reset
  out[#out + 1] = retry
  writes[i] = { na, nb, ttl }
end
if ok then
  for i = 1, #KEYS do
    local w = writes[i]
    redis.call('HSET', KEYS[i], 'a', fmt(w[1]), 'b', fmt(w[2]))
    redis.call('PEXPIRE', KEYS[i], w[3])
  end
end
return out
`

// a = count, b = window end
const FIXED_WINDOW = `
  local capacity = requests + burst
  local count, windowEnd = a or 0, b or 0
  if now >= windowEnd then
    count = 0
    windowEnd = now + period
  end
  reset = windowEnd - now
  limit = capacity
  if count + cost > capacity then
    allowed = false
    remaining = math.max(0, capacity - count)
    retry = reset
  else
    allowed = true
    count = count + cost
    remaining = capacity - count
    retry = 0
  end
  na, nb, ttl = count, windowEnd, reset
`

// a = tokens x period, b = last refill time
const TOKEN_BUCKET = `
  local capacity = requests + burst
  local full = capacity * period
  local need = cost * period
  local tokens = full
  if a ~= nil and b ~= nil then
    tokens = math.min(full, a + math.max(0, now - b) * requests)
  end
  allowed = tokens >= need
  if allowed then tokens = tokens - need end
  reset = math.ceil((full - tokens) / requests)
  limit = capacity
  remaining = math.floor(tokens / period)
  if allowed then retry = 0 else retry = math.ceil((need - tokens) / requests) end
  na, nb, ttl = tokens, now, math.max(1, reset)
`

// a = theoretical arrival time
const GCRA = `
  local interval = period / requests
  local tolerance = (burst + 1) * interval
  local tat = math.max(a or now, now)
  local newTat = tat + cost * interval
  local allowAt = newTat - tolerance
  allowed = now >= allowAt
  local after = tat
  if allowed then after = newTat end
  limit = burst + 1
  remaining = math.max(0, math.floor((tolerance - (after - now)) / interval + 1e-9))
  reset = math.ceil(after - now)
  if allowed then retry = 0 else retry = math.ceil(allowAt - now) end
  na, nb, ttl = after, 0, math.max(1, math.ceil(after - now))
`

export const SCRIPTS: Readonly<Record<AlgorithmName, string>> = {
  fixed_window: PROLOGUE + FIXED_WINDOW + EPILOGUE,
  token_bucket: PROLOGUE + TOKEN_BUCKET + EPILOGUE,
  gcra: PROLOGUE + GCRA + EPILOGUE,
}
