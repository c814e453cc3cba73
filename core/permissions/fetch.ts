import { PermissionDenied } from "../errors.ts";

/** True when `url`'s host is covered by one of the declared `net` entries. */
export function hostAllowed(allowed: readonly string[], url: URL): boolean {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const port = url.port || (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
  for (const raw of allowed) {
    const entry = raw.toLowerCase();
    if (entry === "*") return true;
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

/**
 * A `fetch` that refuses hosts the plugin did not declare. Decisions are cached by the URL's text up to its first
 * `/` after the scheme: the authority (userinfo, host, port) always ends within it, so the cached answer is exact.
 */
export function scopedFetch(plugin: string, allowed: readonly string[]): typeof fetch {
  const decisions = new Map<string, boolean>();
  const guarded = (input: string | URL | Request, init?: RequestInit) => {
    const text = typeof input === "string" ? input : input instanceof Request ? input.url : input.toString();
    const slash = text.indexOf("/", text.indexOf("//") + 2);
    const prefix = slash === -1 ? text : text.slice(0, slash);
    let allowedHere = decisions.get(prefix);
    if (allowedHere === undefined) {
      allowedHere = hostAllowed(allowed, new URL(text));
      if (decisions.size < 1024) decisions.set(prefix, allowedHere);
    }
    if (!allowedHere) {
      const host = new URL(text).host;
      return Promise.reject(new PermissionDenied(plugin, `net:${host}`, `declare "${host}" in permissions.net`));
    }
    return fetch(input, init);
  };
  return Object.assign(guarded, { preconnect: fetch.preconnect }) as typeof fetch;
}

/** For plugins that open sockets with other clients (WebSocket, TCP): throws unless the URL's host is declared. */
export function checkHost(plugin: string, allowed: readonly string[], url: string | URL): void {
  const parsed = new URL(url.toString());
  if (!hostAllowed(allowed, parsed)) throw new PermissionDenied(plugin, `net:${parsed.host}`);
}
