/**
 * The README's commands, typed as a user would, in a fresh copy of the checkout installed by npm with bun's install
 * script skipped: the server and a worker start, answer, and a SIGTERM or SIGINT sent to the PID the command started
 * stops them completely (exit 0, ports free, the worker unregistered, no process of the copy left), and nothing but
 * the program itself stays resident.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot } from "../support/project.ts";
import { eventually } from "../workers/support.ts";
import { commandLine, freshCopy, portFree, processTree, processesUnder, readmeCommand, removeCopy, rssKiB, start, userEnv, type Started } from "./support.ts";

const services = ["admin", "agent", "assistant", "envhub", "tool-manager"] as const;
// The server's stop deadline (server.shutdown_timeout_ms, conf/rock.yml) and the worker's (workers/runtime/main.ts).
const shutdownTimeoutMs = 10_000;

// `npm ci && ./rock` → ./rock; `AGENT_ENDPOINT=… ./rock worker workers/example` → ./rock worker workers/example
const serverCommand = readmeCommand(/^npm ci && /);
const workerCommand = readmeCommand(/^AGENT_ENDPOINT=\S+ /);

let copy: string;
let ports: Record<(typeof services)[number], number>;
let serverEnv: Record<string, string>;
const started: Started[] = [];

beforeAll(async () => {
  copy = await freshCopy(["--ignore-scripts", "--prefer-offline"]);
  ports = Object.fromEntries(services.map((name) => [name, freePort()])) as typeof ports;
  serverEnv = userEnv({
    ...Object.fromEntries(services.map((name) => [`ROCK_${name.toUpperCase().replace("-", "_")}_PORT`, String(ports[name])])),
    // Whatever engine this machine has stays out of it: the tool manager would reconcile its containers.
    ROCK_DOCKER_SOCKET: join(copy, "no-docker.sock"),
  });
}, 120_000);

afterAll(async () => {
  for (const proc of started) if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
  await Promise.all(started.map((proc) => proc.exited));
  for (const line of copy ? processesUnder(copy) : []) process.kill(Number(line.split(":")[0]), "SIGKILL");
  if (copy) removeCopy(copy);
}, 60_000);

const url = (service: (typeof services)[number]) => `http://127.0.0.1:${ports[service]}`;

async function startServer(): Promise<Started> {
  const server = start(serverCommand, copy, serverEnv);
  started.push(server);
  await eventually(async () => {
    if (server.child.exitCode !== null) throw new Error(`${serverCommand.join(" ")} exited ${server.child.exitCode}:\n${server.output()}`);
    const answers = await Promise.all(services.map((s) => fetch(`${url(s)}/health`).then((r) => r.status, () => 0)));
    return answers.every((status) => status === 200);
  }, 30_000, "every service answering /health");
  return server;
}

async function startWorker(): Promise<Started & { endpoint: string }> {
  const worker = start(workerCommand, copy, userEnv({ AGENT_ENDPOINT: `${url("agent")}/v1.0/` }));
  started.push(worker);
  let endpoint = "";
  await eventually(() => {
    if (worker.child.exitCode !== null) throw new Error(`${workerCommand.join(" ")} exited ${worker.child.exitCode}:\n${worker.output()}`);
    endpoint = /listening on (\S+)/.exec(worker.output())?.[1] ?? "";
    return endpoint !== "";
  }, 30_000, "the worker listening");
  return { ...worker, endpoint };
}

const registered = async (): Promise<string[]> => (await fetch(`${url("agent")}/v1.0/worker/list?name=example`)).json();

/** Sends `signal` to the started PID; resolves with its exit code and how long it took to exit. */
async function signalAndWait(proc: Started, signal: NodeJS.Signals) {
  const sent = performance.now();
  process.kill(proc.pid, signal);
  const code = await Promise.race([proc.exited, Bun.sleep(shutdownTimeoutMs + 5000).then(() => "still running")]);
  return { code, ms: performance.now() - sent, signalCode: proc.child.signalCode };
}

test("npm skipped bun's install script: the quick start's command repairs bun and starts the server", async () => {
  expect(serverCommand).toEqual(["./rock"]); // the line the other tests run, so that a README change is seen here
  // Through sh, as a user's shell runs it: the placeholder is a shell script without a #! line.
  const placeholder = Bun.spawnSync(["sh", "-c", `"${join(copy, "node_modules/.bin/bun")}" --version`], { env: userEnv({}) });
  expect(placeholder.exitCode).not.toBe(0);
  expect(placeholder.stderr.toString()).toContain("postinstall script was not run");

  const server = await startServer();
  expect(server.output()).toContain("running node_modules/bun/install.js");
  const version = Bun.spawnSync([join(copy, "node_modules/.bin/bun"), "--version"]).stdout.toString().trim();
  expect(version).toBe((await Bun.file(join(repoRoot, "package.json")).json()).devDependencies.bun);
  expect(await signalAndWait(server, "SIGTERM")).toMatchObject({ code: 0 });
}, 90_000);

test("./rock before npm ci: exits 1 and says to run npm ci", () => {
  const dir = mkdtempSync(join(tmpdir(), "rock-no-modules-"));
  try {
    copyFileSync(join(repoRoot, "rock"), join(dir, "rock"));
    chmodSync(join(dir, "rock"), 0o755);
    const run = Bun.spawnSync([join(dir, "rock")], { env: userEnv({}) });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.toString()).toBe(`rock: ${join(dir, "node_modules/bun")} is missing; run npm ci first\n`);
  } finally {
    removeCopy(dir);
  }
});

test("the README's commands leave one process each, the program itself, well below the old wrapper chain", async () => {
  const server = await startServer();
  const worker = await startWorker();
  await eventually(async () => (await registered()).length === 1, 10_000, "worker registered");
  try {
    for (const [proc, command, program, boundMiB] of [
      // The programs alone measured 88–91 MiB (server) and 143–178 MiB (worker, OpenCC's dictionaries). `npx bun run`
      // put npm's node (75 MiB), `sh -c` (2 MiB) and `bun run` (11 MiB) in front of each: 176 and 238 MiB in all.
      // The bounds leave the programs room to vary and fail if those 87 MiB come back.
      [server, serverCommand, "core/cli.ts", 150],
      [worker, workerCommand, "workers/runtime/main.ts", 220],
    ] as const) {
      const tree = processTree(proc.pid);
      expect(tree.map(commandLine)).toEqual([expect.stringContaining(program)]);
      const totalMiB = tree.reduce((sum, pid) => sum + rssKiB(pid), 0) / 1024;
      console.log(`[rss] ${command.join(" ")}: ${totalMiB.toFixed(1)} MiB in ${tree.length} process(es)`);
      expect(totalMiB).toBeLessThan(boundMiB);
    }
  } finally {
    await signalAndWait(worker, "SIGTERM");
    await signalAndWait(server, "SIGTERM");
  }
}, 90_000);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  describe(`${signal} to the started PID`, () => {
    let server: Started;
    beforeAll(async () => {
      server = await startServer();
    }, 60_000);

    test(`the worker unregisters from the Agent and exits 0; nothing of it is left`, async () => {
      const worker = await startWorker();
      await eventually(async () => (await registered()).length === 1, 10_000, "worker registered");
      const workerPort = Number(new URL(worker.endpoint).port);
      const tree = processTree(worker.pid);

      const { code, ms, signalCode } = await signalAndWait(worker, signal);
      // The worker handles the signal: it unregisters, stops its server and kernel, then exits 0 (a 143/130 would mean
      // the signal killed it before it unregistered).
      expect({ code, signalCode }).toEqual({ code: 0, signalCode: null });
      expect(ms).toBeLessThan(shutdownTimeoutMs);
      // Asked at once, not after the Agent's health check could have dropped it: the worker said goodbye itself.
      expect(await registered()).toEqual([]);
      expect(portFree(workerPort)).toBe(true);
      expect(tree.filter((pid) => processTree(pid).length > 0).map(commandLine)).toEqual([]);
      expect(processesUnder(copy).filter((line) => line.includes("workers/runtime"))).toEqual([]);
      expect(worker.output()).toContain("unregistered from the agent");
    }, 90_000);

    test(`the server stops every service and its sandboxes and exits 0; no process of the copy is left`, async () => {
      const admin = `${url("admin")}/apis/envs/sandbox/v1`;
      const reply = await (await fetch(`${admin}/start`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ image: "local", memory: "1g" }) })).json();
      expect(reply.status).toBe("Success");
      const id = reply.result.sandbox_id;
      await eventually(async () => (await (await fetch(`${admin}/is_alive?sandbox_id=${id}`)).json()).result?.is_alive === true, 30_000, "sandbox alive");
      const tree = processTree(server.pid);
      expect(tree.length).toBeGreaterThan(1); // the sandbox's supervisor and rocklet are the server's descendants

      const { code, ms, signalCode } = await signalAndWait(server, signal);
      expect({ code, signalCode }).toEqual({ code: 0, signalCode: null });
      expect(ms).toBeLessThan(shutdownTimeoutMs);
      expect(services.filter((s) => !portFree(ports[s]))).toEqual([]);
      expect(tree.filter((pid) => processTree(pid).length > 0).map(commandLine)).toEqual([]);
      expect(processesUnder(copy)).toEqual([]);
      expect(server.output()).toContain(`stopping reason=${signal}`);
    }, 90_000);
  });
}
