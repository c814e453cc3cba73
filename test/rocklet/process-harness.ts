/** Runs the rocklet as a separate process (source entry or compiled binary) and finds the port it listens on. */
import type { Subprocess } from "bun";
import { join } from "node:path";

export const ENTRY = join(import.meta.dir, "../../plugins/programs/rocklet/main.ts");

export interface RockletProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  stop(): Promise<void>;
}

export async function spawnRocklet(argv: string[], env: Record<string, string> = {}): Promise<RockletProcess> {
  const proc = Bun.spawn(argv, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
  });
  const reader = proc.stderr.getReader();
  let log = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    log += new TextDecoder().decode(value);
    const match = /listening on [^\s]+:(\d+)/.exec(log);
    if (match) {
      reader.releaseLock();
      return {
        proc,
        port: Number(match[1]),
        async stop() {
          proc.kill("SIGTERM");
          await proc.exited;
        },
      };
    }
  }
  proc.kill("SIGKILL");
  throw new Error(`rocklet did not start: ${log}`);
}

export async function runToExit(argv: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(argv, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}
