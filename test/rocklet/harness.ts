/** Starts an in-process rocklet on a free port and talks to it over real HTTP. */
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_OPTIONS, type RockletOptions, startRocklet } from "../../plugins/programs/rocklet/server.ts";

export interface TestRocklet {
  url: string;
  port: number;
  token: string;
  /** Every route of the server, as `METHOD path`. */
  routes: string[];
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export function startTestRocklet(overrides: Partial<RockletOptions> = {}): TestRocklet {
  const token = `test-token-${crypto.randomUUID()}`;
  const server = startRocklet({
    ...DEFAULT_OPTIONS,
    hostname: "127.0.0.1",
    port: 0,
    token,
    bashPath: Bun.which("bash") ?? "/bin/bash",
    logError: () => undefined,
    ...overrides,
  });
  const url = `http://127.0.0.1:${server.port}`;
  const auth = { authorization: `Bearer ${token}` };
  const call = async (method: string, path: string, body: unknown, headers: Record<string, string> = auth) => {
    const response = await fetch(url + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  return {
    url,
    port: server.port,
    token,
    routes: server.routes,
    post: (path, body, headers) => call("POST", path, body, headers),
    get: (path, headers) => call("GET", path, undefined, headers),
    stop: () => server.stop(),
  };
}

export function percentile(samples: number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

/** A scratch directory under the git-ignored test/.tmp (bun test runs no exit hooks, so /tmp would fill up). */
export function scratchDir(prefix: string): string {
  const base = join(import.meta.dir, "..", ".tmp", "rocklet");
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, prefix));
}
