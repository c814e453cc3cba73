/**
 * What both stores accept and how they turn it into stored text, so that `MemoryStore` and `RedisStore`
 * accept, reject and round-trip exactly the same things and fail with the same messages.
 */

function unserializable(subject: string, what: string): TypeError {
  return new TypeError(`${subject}: value is not JSON-serializable (${what})`);
}

/**
 * JSON text of `value`, refusing what JSON would silently mangle: a top-level `undefined`, and functions,
 * symbols, BigInts and non-finite numbers anywhere. An `undefined` object property is dropped, as JSON does:
 * optional fields are too common to reject.
 */
function encode(subject: string, value: unknown): string {
  if (value === undefined) throw unserializable(subject, "undefined");
  return JSON.stringify(value, (_field, v: unknown) => {
    if (typeof v === "function") throw unserializable(subject, "a function");
    if (typeof v === "symbol") throw unserializable(subject, "a symbol");
    if (typeof v === "bigint") throw unserializable(subject, "a BigInt");
    if (typeof v === "number" && !Number.isFinite(v)) throw unserializable(subject, String(v));
    return v;
  });
}

/** The text a `compareAndSet` expectation is compared with. */
export function encodeValue(key: string, value: unknown): string {
  return encode(`store key '${key}'`, value);
}

/**
 * The text of a value being written. A stored JSON `null` would read back exactly like an absent key while
 * still existing for `ifAbsent`, `scan` and `compareAndSet`, so writing null is refused: use `delete`.
 */
export function encodeStoredValue(key: string, value: unknown): string {
  if (value === null) throw new TypeError(`store key '${key}': cannot store null (use delete() to remove a key)`);
  return encodeValue(key, value);
}

export function encodeMessage(channel: string, message: unknown): string {
  return encode(`store channel '${channel}'`, message);
}

export function decodeValue<T>(key: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`store key '${key}' holds text that is not JSON (written by something else?)`);
  }
}

/** A TTL as whole milliseconds, rounded up so that a tiny TTL never turns into "no TTL". */
export function ttlArgument(key: string, ttlMs: number): number {
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`store key '${key}': ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
  return Math.ceil(ttlMs);
}

export function incrementArgument(key: string, by: number): number {
  if (!Number.isSafeInteger(by)) throw new RangeError(`store key '${key}': increment needs a safe integer step, got ${by}`);
  return by;
}

export function notAnInteger(key: string): TypeError {
  return new TypeError(`store key '${key}': cannot increment, the stored value is not an integer`);
}

export function incrementOverflow(key: string): RangeError {
  return new RangeError(`store key '${key}': increment would leave the safe integer range`);
}

/**
 * `current + by`, or the error both stores raise. Integers only: Redis formats the float results of
 * INCRBYFLOAT with 17 long-double digits, not as JSON.stringify does, which would break the text equality
 * `compareAndSet` relies on. Floats can be updated through a `compareAndSet` loop instead.
 */
export function incrementResult(key: string, current: unknown, by: number): number {
  if (!Number.isSafeInteger(current)) throw notAnInteger(key);
  const result = (current as number) + by;
  if (!Number.isSafeInteger(result)) throw incrementOverflow(key);
  return result;
}

export function storeClosed(): Error {
  return new Error("store is closed");
}
