/**
 * The official E2B SDK against the admin (docker deployment, the test environment's private engine: run
 * `bash test/env/up` first) vs ROCK's own routes on the same admin, measured in this run (issue 17):
 *
 *   (a) Sandbox.create → first `commands.run("echo hi")` vs POST /start → POST /execute `echo hi` (target ratio ≤ 1.1);
 *   (b) `commands.run("echo hi")` sequential, p50 (target ≤ 3 ms), and its ratio to POST /execute.
 *
 * The admin runs in its own process so that this client never shares its event loop.
 *
 *   bun test/bench/e2b.ts [creates-per-row=10] [calls-per-row=500]
 */
import { Sandbox } from "e2b";
import { join } from "node:path";
import { ensureRockletBinary } from "../deployments/support.ts";
import { dockerSocket, sandboxImage } from "../support/env.ts";
import { freePort, tempProject } from "../support/project.ts";
import { ms, percentile, sample } from "./support/measure.ts";
import { startRockProcess } from "./support/rock-process.ts";

const creates = Number(process.argv[2] ?? 10);
const calls = Number(process.argv[3] ?? 500);
const socket = dockerSocket();
if (!socket) throw new Error("no test Docker engine: run `bash test/env/up` first");
const binary = await ensureRockletBinary();
const token = `bench-${crypto.randomUUID()}`;

const project = tempProject("rock-bench-e2b-");
const port = freePort();
// The admin runs on the engine's host: it reaches the rocklets at their containers' addresses (no docker-proxy).
const bridge = (await (await fetch("http://docker/networks/bridge", { unix: socket })).json()) as { IPAM: { Config: { Subnet: string }[] } };
const config = project.config(
  `log:\n  level: warn\nserver:\n  token: ${token}\ndocker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n    rocklet_address: container\n` +
    `  local-operator:\n    deployment: docker\n  admin:\n    port: ${port}\n    reconcile_interval_ms: 600000\n    rocklet_hosts: ["${bridge.IPAM.Config[0].Subnet}"]\n` +
    `    e2b_templates: { base: "${sandboxImage()}" }\n`,
);
const baseUrl = `http://127.0.0.1:${port}`;
const admin = await startRockProcess(config, `${baseUrl}/health`, join(project.root, "data"));
const opts = { apiUrl: baseUrl, sandboxUrl: `${baseUrl}/envd`, apiKey: token };
const rock = async (path: string, body: unknown) => {
  const res = await fetch(`${baseUrl}/apis/envs/sandbox/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { status: string; result: any };
  if (answer.status !== "Success") throw new Error(`${path}: ${JSON.stringify(answer)}`);
  return answer.result;
};
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const timed = async (work: () => Promise<unknown>) => {
  const t = performance.now();
  await work();
  return performance.now() - t;
};
const expectHi = (stdout: string) => {
  if (stdout !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(stdout)}`);
};
const rows: string[] = [];
const row = (name: string, cells: string) => rows.push(`${name.padEnd(48)} ${cells}`);

try {
  // (b) first, one sandbox, both paths: after (a)'s twenty starts and stops the engine and the kernel are still tidying
  // up for a while, which made both paths 0.5-1.5 ms slower.
  const sandbox = await Sandbox.create("base", { ...opts, timeoutMs: 300_000 });
  try {
    const viaSdk = () => timed(async () => expectHi((await sandbox.commands.run("echo hi")).stdout));
    const viaExecute = () => timed(async () => expectHi((await rock("/execute", { sandbox_id: sandbox.sandboxId, command: "echo hi" })).stdout));
    for (const warm of [viaSdk, viaExecute]) await sample(20, 1, warm);
    // Alternating blocks of 50, so that a slow moment of the machine hits both paths alike.
    const sdkTimes: number[] = [];
    const executeTimes: number[] = [];
    for (let done = 0; done < calls; done += 50) {
      sdkTimes.push(...(await sample(Math.min(50, calls - done), 1, viaSdk)));
      executeTimes.push(...(await sample(Math.min(50, calls - done), 1, viaExecute)));
    }
    sdkTimes.sort((a, b) => a - b);
    executeTimes.sort((a, b) => a - b);
    const s50 = percentile(sdkTimes, 50);
    row(`(b) "echo hi", sequential, ${calls} each (ms)`, "   p50     p99");
    row("    ROCK: POST /execute", `${ms(percentile(executeTimes, 50))} ${ms(percentile(executeTimes, 99))}`);
    row("    E2B SDK: commands.run (bash -l -c)", `${ms(s50)} ${ms(percentile(sdkTimes, 99))}   target p50 ≤ 3 ${s50 <= 3 ? "ok" : "MISSED"}, ratio ${(s50 / percentile(executeTimes, 50)).toFixed(2)}`);
  } finally {
    await sandbox.kill();
  }

  // (a) alternating, so that drift hits both alike; the first round warms up.
  const e2b: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < creates + 1; i++) {
    let sandbox: Sandbox | undefined;
    const a = await timed(async () => {
      sandbox = await Sandbox.create("base", { ...opts, timeoutMs: 300_000 });
      expectHi((await sandbox.commands.run("echo hi")).stdout);
    });
    await sandbox!.kill();
    let id = "";
    const b = await timed(async () => {
      id = (await rock("/start", { image: sandboxImage(), cpus: 1, memory: "256m" })).sandbox_id;
      expectHi((await rock("/execute", { sandbox_id: id, command: "echo hi" })).stdout);
    });
    await rock("/stop", { sandbox_id: id });
    if (i > 0) {
      e2b.push(a);
      ours.push(b);
    }
  }
  const ratio = median(e2b) / median(ours);
  row(`(a) create → first command, ${creates} each (ms)`, "   p50     max");
  row("    ROCK: POST /start, POST /execute", `${ms(median(ours))} ${ms(Math.max(...ours))}`);
  row("    E2B SDK: Sandbox.create, commands.run", `${ms(median(e2b))} ${ms(Math.max(...e2b))}   ratio ${ratio.toFixed(2)} (target ≤ 1.1)`);

} finally {
  admin.kill("SIGTERM");
  await admin.exited;
  project.remove();
}
console.log(rows.join("\n"));
