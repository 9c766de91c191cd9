// The global limit's algorithm, run inside Redis so every proxy of a Service shares one limit
// atomically in one round trip: GCRA (the generic cell rate algorithm, ITU-T I.371; as in
// redis-cell and Brandur Leach's "throttled"), a token bucket stored as one timestamp per key.

/**
 * KEYS[1]: the limit's key. ARGV[1]: emission interval T in µs (1e6 / rate). ARGV[2]: burst (the
 * bucket's capacity). Redis's own clock (TIME) is the one time source, so proxies' clock skew does
 * not matter. The key holds the theoretical arrival time (TAT, µs); a request is admitted when
 * TAT + T − burst·T ≤ now, and then TAT becomes max(TAT, now) + T. The key expires when the bucket
 * would be full again. Returns {admitted 1|0, µs until a request would be admitted, requests left}.
 */
export const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local newTat = tat + interval
local allowAt = newTat - tolerance
if allowAt > now then
  return {0, math.ceil(allowAt - now), 0}
end
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1)
return {1, 0, math.floor((tolerance - (newTat - now)) / interval)}
`;
