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

/** A `fetch` that refuses hosts the plugin did not declare. */
export function scopedFetch(plugin: string, allowed: readonly string[]): typeof fetch {
  const guarded = (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (!hostAllowed(allowed, url)) {
      return Promise.reject(new PermissionDenied(plugin, `net:${url.host}`, `declare "${url.host}" in permissions.net`));
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
