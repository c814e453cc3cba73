/**
 * The E2B SDK's data plane through the admin: `sandboxUrl` is `<admin>/envd`, every envd call (Connect RPC streams,
 * REST /files) arrives here with `E2b-Sandbox-Id`, `E2b-Sandbox-Port` and `X-Access-Token`, and is streamed to that
 * sandbox's rocklet, which serves envd beside ROCK's routes. The access token is the sandbox's own (from create or
 * connect); the rocklet's token never leaves the server. Another `E2b-Sandbox-Port` reaches that port inside the
 * sandbox through the rocklet (with the same access token).
 */
import type { Server } from "bun";
import type { ServiceApp } from "../../../../core/kinds/service.ts";
import { HttpError } from "../../../../core/errors.ts";
import { Filesystem } from "../../../protocol/envd/filesystem/filesystem_pb.ts";
import { Process } from "../../../protocol/envd/process/process_pb.ts";
import { ENVD_PORT } from "../../../protocol/envd/version.ts";
import { EnvdAnswer } from "../../../protocol/e2b/schemas.ts";
import type { DataPlane } from "../data-plane.ts";
import type { RockletTarget } from "../rocklet-client.ts";
import { isPaused, type SandboxRecord, type SandboxRecords } from "../sandbox-records.ts";
import type { E2bRecords } from "./e2b-records.ts";
import { e2bErrorBody } from "./routes.ts";

export const ENVD_PREFIX = "/envd";

const SANDBOX_HEADER = "e2b-sandbox-id";
const PORT_HEADER = "e2b-sandbox-port";
const TOKEN_HEADER = "x-access-token";

/** Headers that describe this hop or carry our credentials, not the call. */
const HOP_HEADERS = new Set([
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "authorization",
  "x-rocklet-token",
  TOKEN_HEADER,
  SANDBOX_HEADER,
  PORT_HEADER,
  "upgrade",
  "te",
  "trailer",
  "x-rocklet-forward-port",
]);

/** envd's routes on the rocklet: the access token opens these, not the rocklet's ROCK routes beside them. */
const ENVD_RPC = /^\/(process\.Process|filesystem\.Filesystem)\/[A-Za-z]+$/;
const ENVD_REST = new Set(["/files", "/health", "/envs", "/metrics"]);

export interface EnvdProxyParts {
  e2b: E2bRecords;
  /** The domain of sandbox hosts (`{port}-{id}.{domain}`), if the admin serves them. */
  domain?: string;
  records: SandboxRecords;
  dataPlane: DataPlane;
  /** Thaws a paused sandbox (for one created with E2B's `autoResume`). */
  resume: (sandbox_id: string) => Promise<unknown>;
  fetch: typeof fetch;
}

/** One envd call: the sandbox, port and access token it names, and the path it asks for on that port. */
interface EnvdCall {
  sandbox: string | null;
  port: string;
  token: string | null;
  path: string;
  search: string;
}

/**
 * The path and query of the request target, cut from `request.url` as the kernel's router does: a Host that is no
 * host name (`[::1`) makes a URL that `new URL` refuses.
 */
function targetOf(request: Request): { pathname: string; search: string } {
  const url = request.url;
  const start = url.startsWith("http://") ? url.indexOf("/", 7) : url.indexOf("/");
  const target = start === -1 ? "/" : url.slice(start);
  const query = target.indexOf("?");
  return query === -1 ? { pathname: target, search: "" } : { pathname: target.slice(0, query), search: target.slice(query) };
}

/** A call to `<admin>/envd/…` (the SDK's `sandboxUrl`): the sandbox and port in E2B's headers. */
function callFromHeaders(request: Request): EnvdCall {
  const { pathname, search } = targetOf(request);
  return {
    sandbox: request.headers.get(SANDBOX_HEADER),
    port: request.headers.get(PORT_HEADER) ?? String(ENVD_PORT),
    token: request.headers.get(TOKEN_HEADER),
    path: pathname.slice(ENVD_PREFIX.length),
    search,
  };
}

/**
 * A call to `{port}-{sandboxId}.{domain}` (E2B's sandbox hosts, for users with wildcard DNS and TLS in front): the
 * sandbox and port in the Host; null for any other host.
 */
export function callFromHost(request: Request, domain: string | undefined): EnvdCall | null {
  if (!domain) return null;
  const host = (request.headers.get("host") ?? "").toLowerCase().replace(/:\d+$/, "");
  if (!host.endsWith(`.${domain.toLowerCase()}`)) return null;
  const match = /^(\d{1,5})-([a-z0-9][a-z0-9-]*)$/.exec(host.slice(0, -domain.length - 1));
  if (!match) return null;
  const { pathname, search } = targetOf(request);
  return { sandbox: match[2], port: match[1], token: request.headers.get(TOKEN_HEADER), path: pathname, search };
}

/** Records that `authenticate` read for a request, so that serving it reads the record once. */
const acceptedRecords = new WeakMap<Request, SandboxRecord>();

/** For the kernel's `authenticate`: a data-plane call with the named sandbox's access token needs no server token. */
export async function presentsAccessToken(e2b: E2bRecords, request: Request, path: string, domain: string | undefined): Promise<boolean> {
  const call = callFromHost(request, domain) ?? (path.startsWith(`${ENVD_PREFIX}/`) ? callFromHeaders(request) : null);
  const record = call !== null && call.sandbox !== null && call.token !== null ? await e2b.accepted(call.sandbox, call.token) : null;
  if (record) acceptedRecords.set(request, record);
  return record !== null;
}

/** For the kernel's `serveByHost`: a call to a sandbox host, served before (and instead of) the admin's routes. */
export function serveSandboxHost(request: Request, server: Server<unknown> | null, parts: EnvdProxyParts): Promise<Response> | undefined {
  const call = callFromHost(request, parts.domain);
  return call ? serve(call, request, server, parts) : undefined;
}

/** envd's streaming RPCs, by path: a Connect client reads their errors from the stream, not from the HTTP status. */
const streamingRpcs = new Set(
  [Process, Filesystem].flatMap((service) => service.methods.filter((m) => m.methodKind !== "unary").map((m) => `${ENVD_PREFIX}/${service.typeName}/${m.name}`)),
);

export function mountEnvdProxy(app: ServiceApp, parts: EnvdProxyParts) {
  return app.all(`${ENVD_PREFIX}/*`, ({ request, server }) => serve(callFromHeaders(request), request, server, parts), {
    parse: "none",
    response: { 200: EnvdAnswer },
  });
}

/** Forwards the call; a refusal is answered in the form its caller reads (Connect's for RPCs, envd's for REST). */
async function serve(call: EnvdCall, request: Request, server: Server<unknown> | null, parts: EnvdProxyParts): Promise<Response> {
  try {
    return await forward(call, request, server, parts);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    const path = `${ENVD_PREFIX}${call.path}`;
    if (streamingRpcs.has(path)) return streamError(error, path);
    return Response.json(e2bErrorBody({ status: error.status, message: error.message, path }), { status: error.status });
  }
}

/** A streaming RPC's error as Connect sends it: HTTP 200 and an end-stream message carrying the error. */
function streamError(error: HttpError, path: string): Response {
  const { code, message } = e2bErrorBody({ status: error.status, message: error.message, path });
  const payload = new TextEncoder().encode(JSON.stringify({ error: { code, message } }));
  const frame = new Uint8Array(5 + payload.length);
  frame[0] = 0b10; // end of stream
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, 5);
  return new Response(frame, { headers: { "content-type": "application/connect+json" } });
}

async function forward(call: EnvdCall, request: Request, server: Server<unknown> | null, parts: EnvdProxyParts): Promise<Response> {
  const { sandbox, token, port, path } = call;
  if (!sandbox) throw new HttpError(400, "E2b-Sandbox-Id: required (the sandbox this envd call is for)", SANDBOX_HEADER);
  // Checked here too: without a server token the kernel asks for no credentials at all.
  let record = token ? (acceptedRecords.get(request) ?? (await parts.e2b.accepted(sandbox, token))) : null;
  if (!token || !record || record.sandbox_id !== sandbox) {
    throw new HttpError(401, `X-Access-Token: missing or not the access token of sandbox '${sandbox}'`, TOKEN_HEADER);
  }
  const portNumber = Number(port);
  if (!/^\d{1,5}$/.test(port) || portNumber < 1 || portNumber > 65_535) {
    throw new HttpError(400, `E2b-Sandbox-Port: '${port}' is not a port (1-65535)`, PORT_HEADER);
  }
  const envd = portNumber === ENVD_PORT;
  if (isPaused(record)) {
    if (!record.e2b?.auto_resume) throw new HttpError(409, `sandbox '${sandbox}' is paused; connect to it to resume it`);
    // Created with E2B's autoResume: the call resumes it, as E2B's proxy does.
    await parts.resume(sandbox).catch(() => undefined);
    record = (await parts.records.get(sandbox)) ?? record;
  }
  let target: RockletTarget;
  try {
    target = await parts.dataPlane.target(sandbox, record);
  } catch (error) {
    throw new HttpError(404, `sandbox '${sandbox}' is not running: ${(error as Error).message}`);
  }
  if (envd && !ENVD_RPC.test(path) && !ENVD_REST.has(path)) {
    throw new HttpError(404, `no envd route ${path} (envd serves process.Process/*, filesystem.Filesystem/*, /files, /health, /envs, /metrics)`);
  }
  const headers = new Headers();
  request.headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name)) headers.set(name, value);
  });
  // envd reads the user to run as from `Authorization: Basic`; only that form passes, the rocklet's token goes beside.
  const authorization = request.headers.get("authorization");
  if (authorization && /^Basic\s/i.test(authorization)) headers.set("authorization", authorization);
  headers.set("x-rocklet-token", target.rockletToken);
  // Another port of the sandbox: the rocklet passes the call on to it inside the sandbox.
  if (!envd) headers.set("x-rocklet-forward-port", port);
  // Streams last as long as the command or the watch; envd's keepalives cross the silences.
  server?.timeout(request, 0);
  let upstream: Response;
  try {
    upstream = await parts.fetch(`${target.rockletUrl}${path}${call.search}`, {
      method: request.method,
      headers,
      body: request.method === "GET" || request.method === "HEAD" ? undefined : request.body,
      signal: request.signal,
      redirect: "manual",
      duplex: "half",
    } as RequestInit);
  } catch (error) {
    throw new HttpError(502, `the rocklet of sandbox '${sandbox}' is not reachable: ${(error as Error).message}`);
  }
  const answer = new Headers();
  upstream.headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name) && name !== "content-encoding") answer.set(name, value);
  });
  return new Response(upstream.body, { status: upstream.status, headers: answer });
}
