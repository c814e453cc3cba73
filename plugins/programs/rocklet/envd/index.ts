/**
 * envd, E2B's in-sandbox agent, served by the rocklet beside ROCK's routes, so that the official `e2b` SDK runs
 * commands and files in our sandboxes. What the SDK (npm `e2b` 2.51, read from its dist) does on the data plane:
 *
 * - Base URL: `https://{port}-{sandboxId}.{domain}`, or, when `sandboxUrl` / `E2B_SANDBOX_URL` is set, that one URL
 *   (a path prefix is kept: the Connect transport and openapi-fetch both append to it) with the headers
 *   `E2b-Sandbox-Id` and `E2b-Sandbox-Port: 49983` on every request; the server routes by them.
 * - Auth: `X-Access-Token: <envdAccessToken>` (from the create/connect answer) on every RPC and REST call; envd also
 *   reads `Authorization: Basic base64(user:)` to pick the Unix user (sent when a call names `user`, or always
 *   below envd 0.4.0). The rocklet accepts its own token in `X-Access-Token` too and runs everything as itself.
 * - RPC: `@connectrpc/connect` with the Connect protocol in JSON (`useBinaryFormat: false`), HTTP/1.1:
 *   `POST /process.Process/Start` and `/Connect` are server streams (a start event with the pid first, then data
 *   events, then one end event; keepalive events every `Keepalive-Ping-Interval` seconds); `commands.run` sends
 *   `cmd: /bin/bash, args: [-l, -c, cmd]`, `stdin: false` unless asked, `Connect-Timeout-Ms` = its `timeoutMs`
 *   (default 60 s: the deadline kills the process, a client that just goes away does not); `kill` is SendSignal
 *   SIGKILL (NotFound → `false`); List, SendInput, CloseStdin; `sandbox.pty` starts `bash -i -l` with `pty.size`,
 *   reads `pty` data events, writes with SendInput's `pty` bytes and resizes with Update. Filesystem: Stat, MakeDir (AlreadyExists → `false`),
 *   Move, ListDir (`depth`), Remove, WatchDir (server stream, start event first; the SDK reads `create`, `write`,
 *   `remove`, `rename`, `chmod` events with names relative to the watched directory).
 * - REST: `GET /files?path=&username=` returns the bytes; `POST /files` takes multipart (`file` parts, the file name
 *   is the target path) or, from envd 0.5.7, `application/octet-stream` (optionally gzip) for streams, and answers
 *   `[{name, type: "file", path}]`; errors are `{code, message}`. `GET /health` (204, no auth), `GET /envs`,
 *   `GET /metrics` (what the control plane's `/sandboxes/{id}/metrics` reports).
 * - `envdVersion` from the control plane selects SDK behaviour: ≥ 0.4.0 no default user, ≥ 0.5.2 closeStdin,
 *   ≥ 0.5.7 octet-stream uploads, ≥ 0.6.2 file metadata (xattrs, not offered here), ≥ 0.6.3 watch entries.
 */
import type { DescMethodServerStreaming } from "@bufbuild/protobuf";
import { createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { Filesystem } from "../../../protocol/envd/filesystem/filesystem_pb.ts";
import { Process } from "../../../protocol/envd/process/process_pb.ts";
import { serverStreamHandler } from "./connect-handler.ts";
import { handleFiles } from "./files-rest.ts";
import { filesystemService } from "./filesystem.ts";
import { envdMetrics } from "../statistics.ts";
import { ProcessTable } from "./processes.ts";
import { Watchers } from "./watchers.ts";

export interface EnvdOptions {
  home: string;
  baseEnv: () => Record<string, string>;
  maxUploadBytes: number;
  /** How far a stream's reader may fall behind a process's output. */
  maxQueuedBytes: number;
}

export type EnvdRoute = { public: boolean; run: (request: Request, url: URL) => Promise<Response> | Response };

export interface Envd {
  /** Every route, as `METHOD path`. */
  readonly routes: Map<string, EnvdRoute>;
  close(): void;
}

export function createEnvd(options: EnvdOptions): Envd {
  const processes = new ProcessTable({ baseEnv: options.baseEnv, defaultCwd: options.home, maxQueuedBytes: options.maxQueuedBytes });
  const watchers = new Watchers({ home: options.home, maxWatchers: 64, maxPending: 10_000 });
  const services = [
    { service: Process, impl: processes.service },
    { service: Filesystem, impl: { ...filesystemService({ home: options.home }), ...watchers.service } },
  ];
  const router = createConnectRouter({ grpc: false, grpcWeb: false, connect: true });
  for (const { service, impl } of services) router.service(service, impl);
  const routes = new Map<string, EnvdRoute>();
  for (const handler of router.handlers) {
    const general = createFetchHandler(handler);
    const impl = (services.find((s) => s.service === handler.service)!.impl as Record<string, any>)[handler.method.localName];
    const run = handler.method.methodKind === "server_streaming" && impl ? serverStreamHandler(handler.method as DescMethodServerStreaming, impl, general) : general;
    routes.set(`POST ${handler.requestPath}`, { public: false, run: (request) => run(request) });
  }
  const files: EnvdRoute = { public: false, run: (request, url) => handleFiles(request, url, options) };
  routes.set("GET /files", files);
  routes.set("POST /files", files);
  routes.set("GET /health", { public: true, run: () => new Response(null, { status: 204 }) });
  routes.set("GET /envs", { public: false, run: () => Response.json(options.baseEnv()) });
  routes.set("GET /metrics", { public: false, run: () => Response.json(envdMetrics()) });
  return {
    routes,
    close: () => {
      processes.killAll();
      watchers.closeAll();
    },
  };
}
