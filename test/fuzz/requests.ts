/**
 * Requests for a schema-driven fuzzer: operations read from a service's OpenAPI document, valid-ish values generated
 * from their JSON schemas, then mutated (wrong types, nulls, huge or odd strings, missing and extra fields, arrays for
 * objects, extreme numbers, deep nesting), sent as JSON, forms or odd content types. Everything is drawn from one
 * seeded generator, so a seed reproduces the same requests.
 */

export type Schema = Record<string, any>;

export interface Operation {
  method: string;
  /** OpenAPI path, `{name}` for path parameters. */
  path: string;
  pathParams: string[];
  query: { name: string; required: boolean; schema: Schema }[];
  body?: { contentTypes: string[]; schema: Schema };
}

export interface FuzzRequest {
  method: string;
  /** Path and query, already encoded. */
  target: string;
  headers: Record<string, string>;
  body?: string | FormData | Uint8Array;
  /** One line saying what was sent, for failure reports. */
  describe: string;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/** A seed for `name` derived from the run's seed, so that each service's requests do not depend on the others'. */
export function seedFor(seed: number, name: string): number {
  let hash = seed >>> 0;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 0x9e3779b1) >>> 0;
  return hash;
}

export function operations(doc: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries<Schema>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries<Schema>(methods)) {
      const params: Schema[] = op.parameters ?? [];
      const content: Schema = op.requestBody?.content ?? {};
      const contentTypes = Object.keys(content);
      out.push({
        method: method.toUpperCase(),
        path,
        pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
        query: params.filter((p) => p.in === "query").map((p) => ({ name: p.name, required: !!p.required, schema: p.schema ?? {} })),
        body: contentTypes.length ? { contentTypes, schema: content[contentTypes[0]].schema ?? {} } : undefined,
      });
    }
  }
  return out;
}

// ---- values -------------------------------------------------------------------------------------------------------

/** Stands for a file in a multipart body (format: binary). */
export class FilePart {
  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
  ) {}
}

const WORDS = ["fuzz", "sandbox", "alpha", "x", "default", "echo", "tool", "a_b-c.d", "Z9", "ghost"];
const ODD_STRINGS = [
  "",
  " ",
  "\u0000",
  "\t\n\r",
  "../../etc/passwd",
  "..",
  "%00",
  "%ZZ",
  "\ud800",
  "\udfff\ud800",
  "😀👩‍👩‍👧",
  "\u202egnp.exe",
  "\u200b",
  "ŝàñđḃøẍ",
  "中文名字",
  "<script>alert(1)</script>",
  "'; DROP TABLE x; --",
  "${7*7}{{7*7}}",
  "null",
  "true",
  "-1",
  "1e309",
  "NaN",
  "[]",
  "{}",
  "a".repeat(300),
];
/** Keys that mean something to JavaScript objects. */
const ODD_KEYS = ["toString", "valueOf", "__proto__", "constructor", "hasOwnProperty", "then", "length", "0", "", " ", "a.b", "a[b]"];
const ODD_NUMBERS = [0, -1, -0.5, 0.5, 1, 2 ** 31, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 1e-320, 4294967296, 65536, 123456789.123];

function word(rng: Random): string {
  return `${rng.pick(WORDS)}${rng.chance(0.5) ? rng.int(0, 999) : ""}`;
}

function stringFor(schema: Schema, rng: Random): string {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Math.max(min, 24);
  let pattern: RegExp | undefined;
  try {
    pattern = schema.pattern ? new RegExp(schema.pattern) : undefined;
  } catch {
    pattern = undefined;
  }
  for (let attempt = 0; attempt < 8; attempt++) {
    let text = word(rng);
    while (text.length < min) text += word(rng);
    if (text.length > max) text = text.slice(0, max);
    if (!pattern || pattern.test(text)) return text;
  }
  return word(rng); // valid-ish: a pattern the words never match is left to the server to refuse
}

function numberFor(schema: Schema, rng: Random, integer: boolean): number {
  const low = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -5);
  const high = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : low + 100);
  const value = low + rng.next() * Math.max(0, high - low);
  return integer ? Math.round(value) : Math.round(value * 100) / 100;
}

/** Any small JSON value, for schemas that accept anything. */
export function anyValue(rng: Random, depth = 0): unknown {
  switch (rng.int(0, depth > 2 ? 4 : 6)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(ODD_NUMBERS);
    case 3:
      return word(rng);
    case 4:
      return rng.pick(ODD_STRINGS);
    case 5:
      return Array.from({ length: rng.int(0, 3) }, () => anyValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(0, 3) }, () => [word(rng), anyValue(rng, depth + 1)]));
  }
}

/** A value that satisfies `schema` as far as this generator understands it. */
export function validValue(schema: Schema, rng: Random, depth = 0): unknown {
  if (!schema || typeof schema !== "object") return anyValue(rng);
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum)) return rng.pick(schema.enum);
  const members: Schema[] | undefined = schema.anyOf ?? schema.oneOf;
  if (members?.length) {
    const notNull = members.filter((m) => m.type !== "null");
    return validValue(rng.chance(0.85) && notNull.length ? rng.pick(notNull) : rng.pick(members), rng, depth);
  }
  const type = Array.isArray(schema.type) ? rng.pick(schema.type) : schema.type;
  switch (type) {
    case "string":
      if (schema.format === "binary") return new FilePart(`${word(rng)}.txt`, new TextEncoder().encode(`fuzz ${word(rng)}\n`));
      return stringFor(schema, rng);
    case "integer":
      return numberFor(schema, rng, true);
    case "number":
      return numberFor(schema, rng, false);
    case "boolean":
      return rng.chance(0.5);
    case "null":
      return null;
    case "array": {
      const min = schema.minItems ?? 0;
      const max = Math.min(schema.maxItems ?? min + 3, min + 3);
      return Array.from({ length: rng.int(min, max) }, () => validValue(schema.items ?? {}, rng, depth + 1));
    }
    case "object":
      return objectFor(schema, rng, depth);
    default:
      return schema.properties ? objectFor(schema, rng, depth) : anyValue(rng, depth);
  }
}

function objectFor(schema: Schema, rng: Random, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const required = new Set<string>(schema.required ?? []);
  for (const [name, property] of Object.entries<Schema>(schema.properties ?? {})) {
    if (required.has(name) || (depth < 4 && rng.chance(0.5))) out[name] = validValue(property, rng, depth + 1);
  }
  const patterned = Object.values<Schema>(schema.patternProperties ?? {})[0];
  const extra = patterned ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
  if (extra && depth < 4) for (let i = rng.int(0, 2); i > 0; i--) out[word(rng)] = validValue(extra, rng, depth + 1);
  return out;
}

// ---- mutations ----------------------------------------------------------------------------------------------------

function nested(depth: number, rng: Random): unknown {
  let value: unknown = rng.chance(0.5) ? 1 : "leaf";
  for (let i = 0; i < depth; i++) value = rng.chance(0.5) ? [value] : { k: value };
  return value;
}

/** A value of a kind `original` is not. */
function otherKind(original: unknown, rng: Random): unknown {
  const kinds: (() => unknown)[] = [
    () => rng.pick(ODD_NUMBERS),
    () => rng.pick(ODD_STRINGS),
    () => rng.chance(0.5),
    () => null,
    () => [original],
    () => ({ value: original }),
    () => [],
    () => ({}),
  ];
  for (;;) {
    const value = rng.pick(kinds)();
    if (typeof value !== typeof original || Array.isArray(value) !== Array.isArray(original)) return value;
  }
}

const MUTATIONS: ((value: unknown, rng: Random) => unknown)[] = [
  (value, rng) => otherKind(value, rng),
  () => null,
  (_, rng) => "x".repeat(rng.pick([1_000, 20_000, 300_000, 1_500_000])),
  (_, rng) => rng.pick(ODD_STRINGS),
  (_, rng) => rng.pick(ODD_NUMBERS),
  (value) => (Array.isArray(value) ? {} : typeof value === "string" ? "" : []),
  (value) => [value],
  (value) => (Array.isArray(value) ? Object.fromEntries(value.map((v, i) => [String(i), v])) : { 0: value }),
  (_, rng) => nested(rng.pick([60, 127, 129, 400, 5000]), rng),
  (_, rng) => ({ [rng.pick(ODD_KEYS)]: anyValue(rng), ...(rng.chance(0.5) ? { [rng.pick(ODD_KEYS)]: anyValue(rng) } : {}) }),
  (_, rng) => Array.from({ length: rng.pick([500, 5000]) }, () => word(rng)),
];

/** Paths (lists of keys) to every node of a JSON-like value, the root included. */
function nodes(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (path.length > 6 || value instanceof FilePart) return out;
  if (Array.isArray(value)) value.forEach((v, i) => nodes(v, [...path, i], out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) nodes(v, [...path, k], out);
  return out;
}

/** `value` with one to three nodes changed, removed or added. */
export function mutate(value: unknown, rng: Random): unknown {
  let result = structuredCloneSafe(value);
  for (let n = rng.int(1, 3); n > 0; n--) {
    const path = rng.pick(nodes(result));
    const parent = path.length ? path.slice(0, -1).reduce<any>((node, key) => node?.[key], result) : undefined;
    const key = path[path.length - 1];
    const current = path.reduce<any>((node, k) => node?.[k], result);
    const roll = rng.next();
    if (parent && typeof parent === "object" && !Array.isArray(parent) && roll < 0.2) {
      delete parent[key]; // a missing (often required) field
    } else if (current && typeof current === "object" && !Array.isArray(current) && !(current instanceof FilePart) && roll < 0.35) {
      current[rng.chance(0.4) ? word(rng) : rng.pick(rng.chance(0.6) ? ODD_KEYS : ODD_STRINGS)] = anyValue(rng); // an extra field
    } else {
      const next = rng.pick(MUTATIONS)(current, rng);
      if (!path.length) result = next;
      else if (parent && typeof parent === "object") parent[key] = next;
    }
  }
  return result;
}

function structuredCloneSafe(value: unknown): unknown {
  if (value instanceof FilePart) return value;
  if (Array.isArray(value)) return value.map(structuredCloneSafe);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structuredCloneSafe(v)]));
  return value;
}

// ---- requests -----------------------------------------------------------------------------------------------------

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof FilePart) return new TextDecoder().decode(value.bytes);
  return JSON.stringify(value) ?? "";
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, (_, v) => (v instanceof FilePart ? new TextDecoder().decode(v.bytes) : v)) ?? "null";
}

function formData(value: unknown): FormData {
  const form = new FormData();
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (v instanceof FilePart) form.append(key, new File([v.bytes], v.name));
      else if (Array.isArray(v)) for (const item of v) form.append(key, asText(item));
      else if (v !== undefined) form.append(key, asText(v));
    }
  } else form.append("value", asText(value));
  return form;
}

function urlEncoded(value: unknown): string {
  const params = new URLSearchParams();
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (Array.isArray(v)) for (const item of v) params.append(key, asText(item));
      else if (v !== undefined) params.append(key, asText(v));
    }
  } else params.append("value", asText(value));
  return params.toString();
}

const ODD_PATH_SEGMENTS = ["..", "%2e%2e", "%2F", "a%2Fb", "%00", "%ZZ", "%", "~", "😀", "%F0%9F%98%80", "x".repeat(5000), " ", "%20", "null", "-1", "a;b", "a?b"];
const ODD_QUERY_VALUES = ["", "%ZZ", "%", "%00", "&", "=", "a=b", "%F0%9F", "1e309", "true", "[]", "x".repeat(4000)];

/** encodeURIComponent, except that a lone surrogate goes out as the bytes it would be in WTF-8 instead of throwing. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...text].map((c) => (c.length === 1 && /[\ud800-\udfff]/.test(c) ? "%ED%A0%80" : encodeURIComponent(c))).join("");
  }
}

function pathParam(rng: Random): string {
  if (rng.chance(0.6)) return encode(word(rng));
  return rng.pick(ODD_PATH_SEGMENTS);
}

function queryString(op: Operation, rng: Random, mutated: boolean): string {
  const parts: string[] = [];
  for (const param of op.query) {
    if (!param.required && rng.chance(0.4)) continue;
    if (mutated && rng.chance(0.25)) continue; // a missing required value, sometimes
    const value = mutated && rng.chance(0.4) ? rng.pick(ODD_QUERY_VALUES) : encode(asText(validValue(param.schema, rng)));
    parts.push(`${encode(param.name)}=${value}`);
    if (mutated && rng.chance(0.15)) parts.push(`${encode(param.name)}=${encode(word(rng))}`); // repeated
  }
  if (mutated && rng.chance(0.3)) parts.push(`${encode(rng.pick(rng.chance(0.5) ? ODD_KEYS : ODD_STRINGS))}=${encode(asText(anyValue(rng)))}`);
  if (mutated && rng.chance(0.03)) parts.push(`big=${"q".repeat(100_000)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/** Odd bodies and content types that no schema describes. */
function oddBody(value: unknown, rng: Random): { contentType?: string; body?: string | Uint8Array; what: string } {
  const json = jsonText(value);
  switch (rng.int(0, 10)) {
    case 0:
      return { contentType: "text/plain", body: json, what: "JSON as text/plain" };
    case 1:
      return { contentType: "application/xml", body: "<request><a>1</a></request>", what: "XML" };
    case 2:
      return { contentType: "application/json", body: json.slice(0, rng.int(0, Math.max(0, json.length - 1))), what: "truncated JSON" };
    case 3:
      return { contentType: "application/json", body: "", what: "empty JSON body" };
    case 4:
      return { body: json, what: "JSON without a content type" };
    case 5:
      return { contentType: "application/octet-stream", body: crypto.getRandomValues(new Uint8Array(rng.int(1, 2048))), what: "random bytes" };
    case 6:
      return { contentType: "multipart/form-data", body: "--x\r\ngarbage", what: "multipart without a boundary" };
    case 7:
      return { contentType: "multipart/form-data; boundary=zz", body: '--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated', what: "cut multipart" };
    case 8:
      return { contentType: "application/x-www-form-urlencoded", body: "%%%&=&a=%ZZ&&b", what: "malformed urlencoded" };
    case 9:
      return { contentType: "application/json; charset=utf-16", body: json, what: "JSON declared utf-16" };
    default:
      return { contentType: rng.pick(["application/json", "image/png", "application/vnd.api+json", "*/*", "garbage", ""]), body: json, what: "odd content type" };
  }
}

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/** One request for a randomly chosen operation of `ops`. */
export function fuzzRequest(ops: Operation[], rng: Random, token: string): FuzzRequest {
  const op = rng.pick(ops);
  const strategy = rng.pick(["valid", "mutated", "mutated", "mutated", "odd-body", "odd-path", "odd-method"] as const);
  const mutated = strategy !== "valid";
  const path = op.path.replace(/\{([^}]+)\}/g, () => (strategy === "odd-path" || (mutated && rng.chance(0.3)) ? pathParam(rng) : encode(word(rng))));
  const method = strategy === "odd-method" ? rng.pick(METHODS) : op.method;
  const headers: Record<string, string> = {};
  const auth = rng.next();
  if (auth < 0.95) headers.authorization = `Bearer ${token}`;
  else if (auth < 0.98) headers.authorization = `Bearer ${token}x`;

  let body: FuzzRequest["body"];
  let what: string = strategy;
  const bodyless = ["GET", "HEAD", "TRACE"].includes(method); // fetch refuses a body with these
  if (op.body && !bodyless) {
    const valid = validValue(op.body.schema, rng);
    const value = strategy === "mutated" || strategy === "odd-method" ? mutate(valid, rng) : valid;
    const forms = op.body.contentTypes.filter((c) => c !== "application/json");
    if (strategy === "odd-body") {
      const odd = oddBody(value, rng);
      if (odd.contentType !== undefined) headers["content-type"] = odd.contentType;
      body = odd.body;
      what = `odd-body (${odd.what})`;
    } else if (forms.length && (rng.chance(0.35) || !op.body.contentTypes.includes("application/json"))) {
      const type = rng.pick(forms);
      if (type === "multipart/form-data") body = formData(value);
      else {
        headers["content-type"] = type;
        body = urlEncoded(value);
      }
      what = `${strategy} (${type})`;
    } else {
      headers["content-type"] = "application/json";
      body = jsonText(value);
      what = `${strategy} (json)`;
    }
  } else if (mutated && !bodyless && rng.chance(0.2)) {
    headers["content-type"] = "application/json";
    body = jsonText(anyValue(rng));
    what = `${strategy} (unexpected body)`;
  }
  const target = path + queryString(op, rng, mutated);
  const shown = typeof body === "string" ? body.slice(0, 200) : body instanceof FormData ? `form[${[...body.keys()].join(",")}]` : body ? `${body.length} bytes` : "";
  return { method, target, headers, body, describe: `${method} ${target.slice(0, 200)} [${what}; ${headers["content-type"] ?? "no content-type"}] ${shown}` };
}
