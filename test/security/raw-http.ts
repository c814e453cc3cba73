/**
 * Raw HTTP/1.1 over a TCP socket, for requests no HTTP client would send (odd Host headers, absolute-form targets,
 * dot segments, fragments), and the set of such shapes the token checks are probed with.
 */
import { connect } from "node:net";

export interface RawReply {
  /** 0 when no status line arrived before the socket closed or the time ran out. */
  status: number;
  head: string;
  body: string;
}

/** Sends `request` as is and reads one response (until its body is complete, the socket closes or `ms` pass). */
export function rawHttp(port: number, request: string, ms = 5000): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseReply(Buffer.concat(chunks).toString("latin1")));
    };
    const headOnly = /^HEAD /.test(request);
    const socket = connect(port, "127.0.0.1", () => socket.write(request, "latin1"));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (complete(Buffer.concat(chunks).toString("latin1"), headOnly)) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
    const timer = setTimeout(finish, ms);
  });
}

function complete(text: string, headOnly: boolean): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) return false;
  const head = text.slice(0, end).toLowerCase();
  const status = Number(/^http\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  if (headOnly || status === 101 || status === 204 || status === 304) return true;
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length) return text.length - end - 4 >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/.test(head)) return text.endsWith("0\r\n\r\n");
  return false; // read until close
}

function parseReply(text: string): RawReply {
  const end = text.indexOf("\r\n\r\n");
  const head = end === -1 ? text : text.slice(0, end);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  let body = end === -1 ? "" : text.slice(end + 4);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) body = unchunk(body);
  return { status, head, body: Buffer.from(body, "latin1").toString("utf8") };
}

function unchunk(text: string): string {
  let out = "";
  for (let at = 0; at < text.length; ) {
    const line = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, line), 16);
    if (!(size > 0)) break;
    out += text.slice(line + 2, line + 2 + size);
    at = line + 2 + size + 2;
  }
  return out;
}

export type Header = [name: string, value: string];

/** One request message; `Content-Length` is added when there is a body and no `Transfer-Encoding`. */
export function message(method: string, target: string, headers: Header[], body?: string): string {
  const all = [...headers];
  if (body !== undefined && !all.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n))) all.push(["Content-Length", String(Buffer.byteLength(body))]);
  return `${method} ${target} HTTP/1.1\r\n${all.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n${body ?? ""}`;
}

/**
 * What a probe must get: `401` exactly; `refused`, a 401 or a 400 about the request's form (Bun's own, or the
 * server's naming the Host header), never one from a route's validation; `public`, the answer of the public route
 * named by `publicTarget` (or a 4xx, e.g. 404 for a method it does not have).
 */
export type Expect = "401" | "refused" | "public";

export interface Probe {
  what: string;
  request: string;
  expect: Expect;
  publicTarget?: string;
}

export interface ProbeTarget {
  port: number;
  /** The public route a query-string trick hides behind (`/health`, the rocklet's `/is_alive`). */
  publicPath: string;
  /** A body that would do something if the route ran, with its content type. */
  body: { type: string; text: string };
  /** A real token, sent in forms the server must not accept (bare, wrong scheme). */
  token: string;
}

const bodyMethods = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Every shape of an unauthenticated request to `method path` (a concrete path of a protected route). */
export function probesFor(method: string, path: string, target: ProbeTarget): Probe[] {
  const host = `127.0.0.1:${target.port}`;
  const pub = target.publicPath;
  const probes: Probe[] = [];
  const add = (what: string, m: string, requestTarget: string, headers: Header[], expect: Expect = "401", publicTarget?: string, body?: string) => {
    const withBody = body ?? (bodyMethods.has(m) ? target.body.text : undefined);
    const bodyHeaders: Header[] = withBody !== undefined && !headers.some(([n]) => /^content-type$/i.test(n)) ? [["Content-Type", target.body.type]] : [];
    probes.push({ what: `${what}: ${m} ${requestTarget}`, request: message(m, requestTarget, [...headers, ...bodyHeaders], withBody), expect, publicTarget });
  };
  const close: Header = ["Connection", "close"];
  const plain: Header[] = [["Host", host], close];
  const methods = method === "ALL" ? ["GET", "POST"] : [method];

  for (const m of methods) {
    add("no token", m, path, plain);
    add("wrong token", m, path, [...plain, ["Authorization", "Bearer wrong-token"]]);
    add("empty bearer", m, path, [...plain, ["Authorization", "Bearer "]]);
    add("bare token", m, path, [...plain, ["Authorization", target.token]]);
    add("basic scheme", m, path, [...plain, ["Authorization", `Basic ${btoa(`user:${target.token}`)}`]]);
    add("token in a query", m, `${path}?token=${target.token}&access_token=${target.token}`, plain);

    for (const h of ["x", "xx", "xxx", "abcd", host]) {
      add(`Host ${JSON.stringify(h)}`, m, path, [["Host", h], close]);
      add(`public path with the route in its query, Host ${JSON.stringify(h)}`, m, `${pub}?${path}`, [["Host", h], close], "public", pub);
      add(`public path with the route in a query value, Host ${JSON.stringify(h)}`, m, `${pub}?next=${path}`, [["Host", h], close], "public", pub);
      add(`public path with the route in a fragment, Host ${JSON.stringify(h)}`, m, `${pub}#${path}`, [["Host", h], close], "public", pub);
    }
    add("empty Host", m, path, [["Host", ""], close], "refused");
    add("empty Host, public path in front", m, `${pub}?${path}`, [["Host", ""], close], "refused");
    add("no Host", m, path, [close], "refused");
    add("two Host headers", m, path, [["Host", "x"], ["Host", host], close], "refused");
    for (const h of [`x${pub}?`, `x${pub}#`, "a@b", `${host}/x`, "x y", "[::1"]) add(`Host ${JSON.stringify(h)}`, m, path, [["Host", h], close], "refused");

    add("absolute-form", m, `http://x${path}`, [["Host", "x"], close]);
    add("absolute-form, real host", m, `http://${host}${path}`, plain);
    add("absolute-form, another host", m, `http://y${path}`, plain);
    add("absolute-form, public path with the route in its query", m, `http://x${pub}?${path}`, [["Host", "x"], close], "public", pub);

    add("double slash", m, `/${path}`, plain);
    add("double slashes inside", m, path.replace(/\//g, "//"), plain);
    add("dot segment", m, `/.${path}`, plain);
    add("dot-dot from the public path", m, `${pub}/..${path}`, plain);
    add("encoded dot-dot from the public path", m, `${pub}/%2e%2e${path}`, plain);
    add("encoded dot-dot, upper case", m, `${pub}/%2E%2E${path}`, plain);
    add("backslash dot-dot", m, `${pub}\\..${path.replace(/\//g, "\\")}`, plain);
    add("encoded slashes", m, `/${path.slice(1).replace(/\//g, "%2f")}`, plain);
    add("encoded first slash", m, `/%2f${path.slice(1)}`, plain);
    if (path.lastIndexOf("/") > 0) add("encoded last slash", m, path.replace(/\/([^/]*)$/, "%2F$1"), plain);
    add("trailing slash", m, `${path}/`, plain);
    add("trailing slashes", m, `${path}//`, plain);
    add("query with slashes", m, `${path}?${pub}/x/`, plain);
    add("query with the public path", m, `${path}?${pub}`, plain);
    add("fragment", m, `${path}#${pub}`, plain);
    add("matrix parameter", m, `${path};${pub}`, plain);
    add("upper case", m, path.toUpperCase(), plain);
  }
  add("HEAD", "HEAD", path, plain);
  add("OPTIONS", "OPTIONS", path, [...plain, ["Origin", "http://evil.example"], ["Access-Control-Request-Method", methods[0]]]);
  add("other method", "PUT", path, plain);
  add("unknown method", "PROPFIND", path, plain);
  add("WebSocket upgrade", "GET", path, [
    ["Host", host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
    ["Sec-WebSocket-Version", "13"],
  ]);
  const chunked = target.body.text;
  add("chunked body", "POST", path, [...plain, ["Transfer-Encoding", "chunked"]], "401", undefined, `${chunked.length.toString(16)}\r\n${chunked}\r\n0\r\n\r\n`);
  add("HTTP/1.0", "GET", path, [["Host", host]]);
  return probes;
}

/** A path of `route` (Elysia syntax) with its parameters filled in. */
export function concretePath(route: string): string {
  return route.replace(/:[^/]+/g, "probe").replace(/\*/g, "probe");
}

/** Why `reply` breaks the probe's expectation, or undefined when it holds. `publicAnswers`: body of each public path. */
export function violation(probe: Probe, reply: RawReply, publicAnswers: Record<string, string>): string | undefined {
  const formRefusal = reply.status === 400 && (reply.body === "" || /host/i.test(reply.body));
  if (probe.expect === "401" && reply.status === 401) return undefined;
  if (probe.expect === "refused" && (reply.status === 401 || formRefusal)) return undefined;
  if (probe.expect === "public") {
    if (reply.status === 401 || formRefusal || (reply.status >= 404 && reply.status < 500)) return undefined;
    if (reply.status >= 200 && reply.status < 300 && (probe.request.startsWith("HEAD ") || reply.body === publicAnswers[probe.publicTarget!])) return undefined;
  }
  return `${probe.what} -> ${reply.status || "no answer"} ${reply.body.slice(0, 160)}`;
}

/** Runs `probes` a few at a time and returns the broken expectations. */
export async function runProbes(port: number, probes: Probe[], publicAnswers: Record<string, string>): Promise<string[]> {
  const broken: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const probe = probes[next++];
      const problem = violation(probe, await rawHttp(port, probe.request), publicAnswers);
      if (problem) broken.push(problem);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return broken;
}
