import { PermissionDenied } from "../errors.ts";

/** True when `url`'s host is covered by one of the declared `net` entries. */
export function hostAllowed(allowed: readonly string[], url: URL): boolean {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const port = url.port || (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
  for (const raw of allowed) {
    const entry = raw.toLowerCase();
    if (entry === "*") return true;
    const block = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(entry);
    if (block) {
      if (inBlock(host, block[1], Number(block[2]))) return true;
      continue;
    }
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(entry);
    if (!m) continue;
    const entryHost = m[1].replace(/^\[(.*)\]$/, "$1");
    const entryPort = m[2];
    if (entryPort && entryPort !== "*" && entryPort !== port) continue;
    if (entryHost === host) return true;
    if (entryHost.startsWith("*.") && host.endsWith(entryHost.slice(1))) return true;
  }
  return false;
}

/** The 32 bits of a dotted IPv4 address, or null. */
function ipv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((bits, p) => bits * 256 + Number(p), 0);
}

/** An IPv4 host within a CIDR block ("172.17.0.0/16"): addresses a network hands out, such as containers'. */
function inBlock(host: string, network: string, prefix: number): boolean {
  const address = ipv4(host);
  const base = ipv4(network);
  if (address === null || base === null || prefix > 32) return false;
  const size = 2 ** (32 - prefix);
  return Math.floor(address / size) === Math.floor(base / size);
}

/** Redirect statuses that `fetch` follows when it has a Location. */
const redirectStatuses = new Set([301, 302, 303, 307, 308]);
/** The most redirects one call follows, as `fetch` does. */
export const MAX_REDIRECTS = 20;
/** Headers that describe a request body; they go when the body goes. */
const bodyHeaders = ["content-type", "content-length", "content-encoding", "content-language", "content-location"];
/** Headers that carry credentials; they never go to another origin. */
const credentialHeaders = ["authorization", "proxy-authorization", "cookie"];

/**
 * A `fetch` that refuses hosts the plugin did not declare, at every hop: redirects are followed here (the engine's
 * fetch is asked for `redirect: "manual"`), so that an allowed host cannot hand the request to an undeclared one.
 * Decisions are cached by the URL's text up to its first `/` after the scheme: the authority (userinfo, host, port)
 * always ends within it, so the cached answer is exact.
 */
export function scopedFetch(plugin: string, allowed: readonly string[]): typeof fetch {
  const decisions = new Map<string, boolean>();
  const permits = (text: string): boolean => {
    const slash = text.indexOf("/", text.indexOf("//") + 2);
    const prefix = slash === -1 ? text : text.slice(0, slash);
    let allowedHere = decisions.get(prefix);
    if (allowedHere === undefined) {
      allowedHere = hostAllowed(allowed, new URL(text));
      if (decisions.size < 1024) decisions.set(prefix, allowedHere);
    }
    return allowedHere;
  };
  const denied = (text: string, redirectedBy?: string) => {
    const host = new URL(text).host;
    const via = redirectedBy ? `redirected there by ${new URL(redirectedBy).host}; ` : "";
    return new PermissionDenied(plugin, `net:${host}`, `${via}declare "${host}" in permissions.net`);
  };

  /** Follows `response`'s redirect chain hop by hop, checking each new host before anything is sent to it. */
  const follow = async (first: string, input: string | URL | Request, init: RequestInit | undefined, response: Response): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    let url = first;
    let method = (init?.method ?? request?.method ?? "GET").toUpperCase();
    const headers = new Headers(request?.headers);
    if (init?.headers) new Headers(init.headers).forEach((value, key) => headers.set(key, value));
    // A Request's own body was consumed by the first hop and cannot be sent again.
    let body: RequestInit["body"] = init?.body !== undefined ? init.body : request?.body ? request.body : null;
    const signal = init?.signal ?? request?.signal;
    for (let hops = 1; ; hops++) {
      const location = response.headers.get("location");
      if (location === null) return response; // a 3xx without Location is the answer, as with fetch
      await response.body?.cancel().catch(() => {});
      if (hops > MAX_REDIRECTS) throw new TypeError(`too many redirects (more than ${MAX_REDIRECTS}) starting at ${first}`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new TypeError(`redirect from ${url} to an invalid URL: ${location}`);
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") throw new TypeError(`redirect from ${url} to a ${next.protocol} URL`);
      if (!permits(next.href)) throw denied(next.href, url);
      const status = response.status;
      if ((status === 303 && method !== "GET" && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")) {
        method = "GET";
        body = null;
      }
      // Another origin never gets the credentials meant for this one; a 307/308 body goes on, as with fetch.
      if (new URL(url).origin !== next.origin) for (const name of credentialHeaders) headers.delete(name);
      if (body === null) for (const name of bodyHeaders) headers.delete(name);
      else if (body instanceof ReadableStream) throw new TypeError(`cannot follow a ${status} redirect from ${url}: the request body was a stream`);
      url = next.href;
      response = await fetch(url, { ...init, method, headers, body, signal, redirect: "manual" });
      if (!redirectStatuses.has(response.status)) {
        Object.defineProperty(response, "redirected", { value: true });
        return response;
      }
    }
  };

  const manual: RequestInit = { redirect: "manual" };
  const guarded = (input: string | URL | Request, init?: RequestInit) => {
    const text = typeof input === "string" ? input : input instanceof Request ? input.url : input.toString();
    if (!permits(text)) return Promise.reject(denied(text));
    const mode = init?.redirect ?? (input instanceof Request ? input.redirect : "follow");
    // "manual" hands the 3xx to the caller, whose next call is checked; "error" fails on it.
    if (mode !== "follow") return fetch(input, init);
    return fetch(input, init ? { ...init, redirect: "manual" } : manual).then((response) =>
      redirectStatuses.has(response.status) ? follow(text, input, init, response) : response,
    );
  };
  return Object.assign(guarded, { preconnect: fetch.preconnect }) as typeof fetch;
}

/** For plugins that open sockets with other clients (WebSocket, TCP): throws unless the URL's host is declared. */
export function checkHost(plugin: string, allowed: readonly string[], url: string | URL): void {
  const parsed = new URL(url.toString());
  if (!hostAllowed(allowed, parsed)) throw new PermissionDenied(plugin, `net:${parsed.host}`);
}
