/**
 * Where the time of the E2B SDK's `commands.run("echo hi")` goes (issue 17), hop by hop, interleaved in one run:
 *
 *   instant server: the SDK, and a raw Connect call, against a Connect server that answers at once (no process):
 *                   the floor of the SDK and of HTTP on this machine;
 *   host rocklet:   a rocklet on the host (no admin, no docker-proxy): POST /execute vs a raw Connect Start, both
 *                   `bash -c` (a login shell on the host may run a profile's hooks: not what is measured here);
 *   admin:          a docker sandbox through the admin: POST /execute vs a raw Connect Start to `/envd` vs the SDK.
 *
 * Beside the latency, the CPU time each process spent per call (from /proc: this client, the admin, the rocklet that
 * served it; the command's own processes not counted): on a shared machine the latency is noisy, the CPU time is not.
 *
 * With `ROCK_BENCH_BASELINE=<another checkout>`, a second admin (and rocklet) built from that checkout runs beside,
 * with its own sandbox, so that a change is measured before/after in the same run (with
 * `ROCK_BENCH_BASELINE_PUBLISHED=1`, it reaches its rocklet through the published port, as before `rocklet_address`).
 *
 *   bun test/bench/e2b-hops.ts [calls-per-probe=300]   (needs `bash test/env/up`)
 */
import { Sandbox } from "e2b";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureRockletBinary } from "../deployments/support.ts";
import { waitForHttp } from "../support/project.ts";
import { dockerSocket, sandboxImage } from "../support/env.ts";
import { freePort, tempProject } from "../support/project.ts";
import { ms, percentile, sample, spawnAndReadLine } from "./support/measure.ts";
import { startRockProcess } from "./support/rock-process.ts";
import { ENVD_VERSION } from "../../plugins/protocol/envd/version.ts";

const calls = Number(process.argv[2] ?? 300);
const CLOCK_TICKS = 100; // USER_HZ, the unit of /proc/<pid>/stat times on Linux
const socket = dockerSocket();
if (!socket) throw new Error("no test Docker engine: run `bash test/env/up` first");
const binary = await ensureRockletBinary();
const token = `bench-${crypto.randomUUID()}`;

const project = tempProject("rock-bench-e2b-hops-");
const port = freePort();
// The admin runs on the engine's host: it reaches the rocklets at their containers' addresses (no docker-proxy).
const bridge = (await (await fetch("http://docker/networks/bridge", { unix: socket })).json()) as { IPAM: { Config: { Subnet: string }[] } };
const DIRECT = `    rocklet_address: container\n`;
const DIRECT_HOSTS = `    rocklet_hosts: ["${bridge.IPAM.Config[0].Subnet}"]\n`;
const config = project.config(
  `log:\n  level: warn\nserver:\n  token: ${token}\ndocker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n${DIRECT}` +
    `  local-operator:\n    deployment: docker\n  admin:\n    port: ${port}\n    reconcile_interval_ms: 600000\n${DIRECT_HOSTS}    e2b_templates: { base: "${sandboxImage()}" }\n`,
);
const adminUrl = `http://127.0.0.1:${port}`;
const admin = await startRockProcess(config, `${adminUrl}/health`, join(project.root, "data"));
const baselineTree = process.env.ROCK_BENCH_BASELINE;
const baseline = baselineTree ? await startBaseline(baselineTree) : null;
const instant = await spawnAndReadLine([process.execPath, join(import.meta.dir, "support/instant-envd.ts")]);
const instantUrl = `http://127.0.0.1:${instant.line}`;
const rockletPort = freePort();
const rockletToken = `bench-${crypto.randomUUID()}`;
const rocklet = Bun.spawn([binary, "--host", "127.0.0.1", "--port", String(rockletPort)], {
  env: { ...process.env, ROCKLET_TOKEN: rockletToken },
  cwd: project.root,
  stdout: "ignore",
  stderr: "inherit",
});
const rockletUrl = `http://127.0.0.1:${rockletPort}`;
await waitForHttp(`${rockletUrl}/is_alive`);

const expectHi = (stdout: string) => {
  if (stdout !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(stdout)}`);
};
const timed = async (work: () => Promise<unknown>) => {
  const t = performance.now();
  await work();
  return performance.now() - t;
};
const envelope = (message: unknown) => {
  const payload = new TextEncoder().encode(JSON.stringify(message));
  const bytes = new Uint8Array(5 + payload.length);
  new DataView(bytes.buffer).setUint32(1, payload.length);
  bytes.set(payload, 5);
  return bytes;
};
const loginShell = envelope({ process: { cmd: "/bin/bash", args: ["-l", "-c", "echo hi"] }, stdin: false });
const plainShell = envelope({ process: { cmd: "/bin/bash", args: ["-c", "echo hi"] }, stdin: false });
/** A Connect Start as the SDK sends it (JSON), read to the end; checks the output. */
const rawStart = async (url: string, headers: Record<string, string>, startBody = loginShell) => {
  const res = await fetch(`${url}/process.Process/Start`, {
    method: "POST",
    headers: { "content-type": "application/connect+json", "connect-protocol-version": "1", "keepalive-ping-interval": "50", ...headers },
    body: startBody,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!new TextDecoder().decode(bytes).includes(`"stdout":"${btoa("hi\n")}"`)) throw new Error(`unexpected answer ${new TextDecoder().decode(bytes)}`);
};
const executeAt = async (url: string, headers: Record<string, string>, body: Record<string, unknown>) => {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  const answer = (await res.json()) as any;
  expectHi(answer.result?.stdout ?? answer.stdout);
};
/** The SDK's Sandbox for a data plane the control plane did not hand out (the instant server). */
const sdkAt = (sandboxUrl: string, accessToken: string) =>
  new (Sandbox as any)({ sandboxId: "bench", envdAccessToken: accessToken, sandboxUrl, apiKey: "x", envdVersion: ENVD_VERSION }) as Sandbox;
const run = (sandbox: Sandbox) => async () => expectHi((await sandbox.commands.run("echo hi")).stdout);

const sandbox = await Sandbox.create("base", { apiUrl: adminUrl, sandboxUrl: `${adminUrl}/envd`, apiKey: token, timeoutMs: 300_000 });
const envdHeaders = { "e2b-sandbox-id": sandbox.sandboxId, "e2b-sandbox-port": "49983", "x-access-token": (sandbox as any).envdAccessToken };
const probes: [string, () => Promise<unknown>][] = [
  ["instant server: raw Connect Start (fetch)", () => rawStart(instantUrl, {})],
  ["instant server: SDK commands.run", run(sdkAt(instantUrl, "x"))],
  ["host rocklet: POST /execute", () => executeAt(`${rockletUrl}/execute`, { authorization: `Bearer ${rockletToken}` }, { command: "echo hi" })],
  ["host rocklet: raw Connect Start", () => rawStart(rockletUrl, { "x-access-token": rockletToken }, plainShell)],
  [
    "admin, docker: POST /execute",
    () => executeAt(`${adminUrl}/apis/envs/sandbox/v1/execute`, { authorization: `Bearer ${token}` }, { sandbox_id: sandbox.sandboxId, command: "echo hi" }),
  ],
  ["admin, docker: raw Connect Start to /envd", () => rawStart(`${adminUrl}/envd`, envdHeaders)],
  ["admin, docker: SDK commands.run", run(sandbox)],
];
if (baseline) {
  const { url, sandbox: other } = baseline;
  probes.push(
    ["baseline admin: POST /execute", () => executeAt(`${url}/apis/envs/sandbox/v1/execute`, { authorization: `Bearer ${token}` }, { sandbox_id: other.sandboxId, command: "echo hi" })],
    ["baseline admin: SDK commands.run", run(other)],
  );
}
const sandboxRocklet = await containerPid(sandbox.sandboxId);
/** The process that serves each probe (besides this client): the instant server, the host rocklet, or the admin and the sandbox's rocklet. */
const baselineRocklet = baseline ? await containerPid(baseline.sandbox.sandboxId) : 0;
const servers = (name: string) =>
  name.startsWith("instant")
    ? [instant.child.pid]
    : name.startsWith("host rocklet")
      ? [rocklet.pid]
      : name.startsWith("baseline")
        ? [baseline!.admin.pid, baselineRocklet]
        : [admin.pid, sandboxRocklet];
const times = new Map<string, number[]>(probes.map(([name]) => [name, []]));
const cpu = new Map<string, { client: number; servers: number[] }>(probes.map(([name]) => [name, { client: 0, servers: servers(name).map(() => 0) }]));
try {
  for (const [, probe] of probes) await sample(20, 1, () => timed(probe));
  // Blocks of 25 in turn, so that a slow moment of the shared machine hits every probe alike.
  for (let done = 0; done < calls; done += 25) {
    for (const [name, probe] of probes) {
      const pids = servers(name);
      const before = { client: ownCpuMs(), servers: pids.map(cpuMs) };
      times.get(name)!.push(...(await sample(Math.min(25, calls - done), 1, () => timed(probe))));
      const spent = cpu.get(name)!;
      spent.client += ownCpuMs() - before.client;
      pids.forEach((pid, i) => (spent.servers[i] += cpuMs(pid) - before.servers[i]));
    }
  }
} finally {
  await sandbox.kill().catch(() => undefined);
  await baseline?.sandbox.kill().catch(() => undefined);
  baseline?.admin.kill("SIGTERM");
  await baseline?.admin.exited;
  rocklet.kill("SIGTERM");
  instant.child.kill("SIGTERM");
  admin.kill("SIGTERM");
  await Promise.all([admin.exited, rocklet.exited, instant.child.exited]);
  project.remove();
}
const base = percentile(times.get("admin, docker: POST /execute")!.sort((a, b) => a - b), 50);
console.log(`"echo hi", ${calls} calls per probe, interleaved (ms)`.padEnd(44), "   p50     p90  ratio  CPU per call: client  server(s)");
for (const [name, xs] of times) {
  xs.sort((a, b) => a - b);
  const spent = cpu.get(name)!;
  const servers = spent.servers.map((t) => (t / calls).toFixed(2)).join(" + ");
  console.log(name.padEnd(44), ms(percentile(xs, 50)), ms(percentile(xs, 90)), `${(percentile(xs, 50) / base).toFixed(2).padStart(6)}`, `${(spent.client / calls).toFixed(2).padStart(20)}  ${servers}`);
}
console.log("(server(s): the instant server; the host rocklet; the admin + the sandbox's rocklet)");

/** CPU time a process has spent itself (user + system, not its children's), in ms; 0 once it is gone. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** The host pid of the rocklet in a sandbox's container (the child of docker-init, or the first process without it). */
async function containerPid(sandboxId: string): Promise<number> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`rock.sandbox_id=${sandboxId}`] }));
  const [container] = (await (await fetch(`http://docker/containers/json?filters=${filters}`, { unix: socket })).json()) as { Id: string }[];
  const info = (await (await fetch(`http://docker/containers/${container.Id}/json`, { unix: socket })).json()) as { State: { Pid: number } };
  const children = readFileSync(`/proc/${info.State.Pid}/task/${info.State.Pid}/children`, "utf8").trim().split(" ").filter(Boolean);
  return children.length > 0 ? Number(children[0]) : info.State.Pid;
}

/** An admin and a rocklet built from another checkout (`tree`), with a sandbox of its own. */
async function startBaseline(tree: string) {
  const rockletPath = join(project.root, "rocklet-baseline");
  const build = Bun.spawn([process.execPath, join(tree, "plugins/programs/rocklet/build.ts"), "--outfile", rockletPath], { stdout: "ignore", stderr: "inherit" });
  if ((await build.exited) !== 0) throw new Error(`building the rocklet of ${tree} failed`);
  const otherPort = freePort();
  const otherConfig = join(project.root, "baseline.yml");
  // A checkout from before `rocklet_address` reaches its rocklet through the published port (docker-proxy).
  const published = process.env.ROCK_BENCH_BASELINE_PUBLISHED === "1" ? (text: string) => text.replace(DIRECT, "").replace(DIRECT_HOSTS, "") : (text: string) => text;
  await Bun.write(otherConfig, published(readFileSync(config, "utf8")).replace(binary, rockletPath).replace(`port: ${port}`, `port: ${otherPort}`));
  const url = `http://127.0.0.1:${otherPort}`;
  const env = { ...process.env, ROCK_CONFIG: otherConfig, ROCK_DATA_DIR: join(project.root, "baseline-data") };
  const other = Bun.spawn([process.execPath, join(tree, "core/cli.ts")], { env, cwd: tree, stdout: "ignore", stderr: "inherit" });
  await waitForHttp(`${url}/health`);
  const otherSandbox = await Sandbox.create("base", { apiUrl: url, sandboxUrl: `${url}/envd`, apiKey: token, timeoutMs: 300_000 });
  return { admin: other, url, sandbox: otherSandbox };
}
