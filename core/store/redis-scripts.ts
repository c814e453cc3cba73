/**
 * The Lua scripts that make `RedisStore`'s multi-step operations atomic on the server.
 * Registered with `defineCommand`, so ioredis sends EVALSHA and falls back to EVAL after a NOSCRIPT.
 */
import type Redis from "ioredis";

/**
 * KEYS[1] key; ARGV[1] expected text ('' = must be absent); ARGV[2] next text ('' = delete);
 * ARGV[3] TTL in ms ('' = keep the current TTL). Stored text is JSON and never empty, so '' is free.
 */
const compareAndSet = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`;

/** The error codes `increment` maps back to the same errors `MemoryStore` throws. */
export const NOT_AN_INTEGER = "ROCK_NOT_INTEGER";
export const OVERFLOW = "ROCK_OVERFLOW";

/**
 * KEYS[1] key; ARGV[1] integer step. Checks the stored text is an integer within JavaScript's safe range,
 * and that the result stays there, before INCRBY (which keeps the TTL). Returns the result as text:
 * ioredis' integer-reply parser rounds values next to ±(2^53 - 1).
 */
const increment = `
local limit = 9007199254740991
local current = 0
local text = redis.call('GET', KEYS[1])
if text then
  current = string.match(text, '^%-?%d+$') and tonumber(text)
  if not current or math.abs(current) > limit then return redis.error_reply('${NOT_AN_INTEGER}') end
end
if math.abs(current + tonumber(ARGV[1])) > limit then return redis.error_reply('${OVERFLOW}') end
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
`;

/** KEYS[1] key. PERSIST alone cannot tell "absent" from "had no TTL"; `expire` must return true for the latter. */
const persist = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1
`;

export interface StoreScripts {
  rockStoreCompareAndSet(key: string, expected: string, next: string, ttlMs: string): Promise<number>;
  rockStoreIncrement(key: string, by: string): Promise<string>;
  rockStorePersist(key: string): Promise<number>;
}

export type ScriptedRedis = Redis & StoreScripts;

export function withStoreScripts(client: Redis): ScriptedRedis {
  client.defineCommand("rockStoreCompareAndSet", { numberOfKeys: 1, lua: compareAndSet });
  client.defineCommand("rockStoreIncrement", { numberOfKeys: 1, lua: increment });
  client.defineCommand("rockStorePersist", { numberOfKeys: 1, lua: persist });
  return client as ScriptedRedis;
}
