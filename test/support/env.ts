/**
 * Where the test environment's real services are. `test/env/up` starts them and writes `test/.env`;
 * variables already in the environment win. Under CI a missing service fails the test file instead of skipping it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const inCI = !!process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";

function loadDotEnv(): Record<string, string> {
  const file = join(import.meta.dir, "..", ".env");
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return out;
}

const dotEnv = loadDotEnv();

export function testVar(name: string): string | undefined {
  return process.env[name] ?? dotEnv[name];
}

/** redis://127.0.0.1:PORT of the test Redis, if one runs. */
export function redisUrl(): string | undefined {
  return testVar("ROCK_TEST_REDIS_URL");
}

/** Path of the private Docker engine's socket, if one runs. */
export function dockerSocket(): string | undefined {
  return testVar("ROCK_TEST_DOCKER_SOCKET");
}

/** Path of bubblewrap (`bwrap`), which isolates local sandboxes; test/env/up installs it. */
export function bubblewrap(): string | undefined {
  return Bun.which("bwrap") ?? undefined;
}

/** Image built by `test/image/build` for sandbox tests. */
export function sandboxImage(): string {
  return testVar("ROCK_TEST_IMAGE") ?? "rock-test-sandbox:latest";
}

/**
 * True when `component` is available; false (skip) outside CI; throws under CI so that the file fails.
 * Use as `describe.skipIf(!available("redis", redisUrl()))(...)`.
 */
export function available(component: string, value: string | undefined): boolean {
  if (value) return true;
  if (inCI) throw new Error(`${component} is required under CI but the test environment has none (run test/env/up)`);
  console.warn(`[test] ${component} not available: skipping (run test/env/up to provide it)`);
  return false;
}
