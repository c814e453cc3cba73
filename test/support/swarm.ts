/**
 * The two-node swarm of `test/env/swarm` (the private engine as manager, zone=a; a second engine in a network namespace
 * as worker, zone=b), started on first request: only the tests that need it pay for it. test/env/down removes it.
 */
import { join } from "node:path";
import { dockerSocket, inCI } from "./env.ts";
import { repoRoot } from "./project.ts";

export interface TestSwarm {
  /** The manager's engine socket (the checkout's private engine). */
  managerSocket: string;
  managerAddr: string;
  workerAddr: string;
  workerSocket: string;
  /** Where the worker engine writes its pid (the node-loss tests stop it by that pid). */
  workerPidfile: string;
}

let started: Promise<TestSwarm | null> | undefined;

async function start(): Promise<TestSwarm | null> {
  const managerSocket = dockerSocket();
  if (!managerSocket) return null;
  const proc = Bun.spawn([join(repoRoot, "test", "env", "swarm"), "up"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`test/env/swarm up failed (exit ${code}):\n${err}`);
  const vars = Object.fromEntries(out.trim().split("\n").map((line) => line.split("=", 2) as [string, string]));
  return {
    managerSocket,
    managerAddr: vars.ROCK_TEST_SWARM_MANAGER_ADDR,
    workerAddr: vars.ROCK_TEST_SWARM_WORKER_ADDR,
    workerSocket: vars.ROCK_TEST_SWARM_WORKER_SOCKET,
    workerPidfile: vars.ROCK_TEST_SWARM_WORKER_PIDFILE,
  };
}

/**
 * The swarm, started if need be. When there is no private engine or the swarm cannot start (not root, no network
 * namespaces): null (the caller skips) outside CI, a thrown error with the script's output under CI.
 */
export async function testSwarm(): Promise<TestSwarm | null> {
  started ??= start();
  let swarm: TestSwarm | null;
  try {
    swarm = await started;
  } catch (error) {
    if (inCI) throw error;
    console.warn(`[test] skipping the swarm tests: ${(error as Error).message}`);
    return null;
  }
  if (!swarm && inCI) throw new Error("the swarm is required under CI but the test environment has no Docker engine (run test/env/up)");
  if (!swarm) console.warn("[test] no Docker engine: skipping the swarm tests (run test/env/up to provide it)");
  return swarm;
}
