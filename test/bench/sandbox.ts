/**
 * Sandboxes through the admin vs the same work without it, all measured in this run against the test environment's
 * private Docker engine (run `bash test/env/up` first). The admin runs in its own process (`bun core/cli.ts` with a
 * temporary ROCK_CONFIG: docker deployment, local-operator, admin) so that this client never shares its event loop.
 *
 *   (a) start → alive: SDK start (start_async + get_status polls) and POST /start vs dockerode create+start of the
 *       same container until its rocklet answers;
 *   (b) `echo hi`: admin /execute vs the rocklet's /execute directly vs `docker exec` (Engine API, and the CLI);
 *   (c) run_in_session round trip: admin vs the rocklet directly;
 *   (d) 20 concurrent starts: success, time, leftovers.
 *
 *   bun test/bench/sandbox.ts [starts-per-row=10] [calls-per-row=1000]
 */
import Docker from "dockerode";
import { join } from "node:path";
import { RockClient, Sandbox } from "../../plugins/clients/sdk/index.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { dockerSocket, sandboxImage } from "../support/env.ts";
import { freePort, tempProject } from "../support/project.ts";
import { ms, percentile, sample } from "./support/measure.ts";
import { engineExec, rawSettings, removeRaw, rockletPost, startRaw, type RawSandbox } from "./support/raw-docker.ts";
import { startRockProcess } from "./support/rock-process.ts";

const starts = Number(process.argv[2] ?? 10);
const calls = Number(process.argv[3] ?? 1000);
const CONCURRENT = 20;
const socket = dockerSocket();
if (!socket) throw new Error("no test Docker engine: run `bash test/env/up` first");
const image = sandboxImage();
const binary = await ensureRockletBinary();
const engine = new Docker({ socketPath: socket });
const settings = rawSettings(binary);
const prefix = `bench-${process.pid}-`;
let counter = 0;
const newId = (tag: string) => `${prefix}${tag}${++counter}`;

// The admin, in its own process.
const project = tempProject("rock-bench-");
const port = freePort();
const config = project.config(
  `log:\n  level: warn\ndocker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n` +
    `  local-operator:\n    deployment: docker\n  admin:\n    port: ${port}\n    reconcile_interval_ms: 600000\n`,
);
const baseUrl = `http://127.0.0.1:${port}`;
const admin = await startRockProcess(config, `${baseUrl}/health`, join(project.root, "data"));
const client = new RockClient({ baseUrl });

const rows: string[] = [];
const row = (name: string, cells: string) => rows.push(`${name.padEnd(44)} ${cells}`);
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");

async function ourContainers() {
  const all = await engine.listContainers({ all: true });
  return all.filter((c) => c.Labels["rock.sandbox_id"]?.startsWith(prefix));
}

try {
  // (a) start → alive, alternating the paths so that drift hits all of them alike.
  const sandboxSpec = { client, image, cpus: 1, memory: "256m" };
  const times = { sdkTight: [] as number[], sdkDefault: [] as number[], sync: [] as number[], raw: [] as number[] };
  for (let i = 0; i < starts + 1; i++) {
    const warm = i === 0;
    let t = performance.now();
    const tight = new Sandbox({ ...sandboxSpec, sandboxId: newId("a") });
    await tight.start({ intervalMs: 5, maxIntervalMs: 5 });
    if (!warm) times.sdkTight.push(performance.now() - t);
    await tight.stop();

    t = performance.now();
    const usual = new Sandbox({ ...sandboxSpec, sandboxId: newId("a") });
    await usual.start();
    if (!warm) times.sdkDefault.push(performance.now() - t);
    await usual.stop();

    t = performance.now();
    const synced = await client.start({ image, cpus: 1, memory: "256m", sandbox_id: newId("a") });
    if (!warm) times.sync.push(performance.now() - t);
    await client.stop(synced.sandbox_id);

    t = performance.now();
    const raw = await startRaw(engine, settings, newId("raw"), image, 1, 256 * 1024 ** 2);
    if (!warm) times.raw.push(performance.now() - t);
    await removeRaw(engine, raw);
  }
  const raw50 = median(times.raw);
  row(`(a) start→alive, ${starts} each (ms)`, "   p50     max   ratio p50 (target ≤ 1.3)");
  row("    raw dockerode create+start+is_alive", `${ms(raw50)} ${ms(Math.max(...times.raw))}`);
  for (const [name, xs] of [["    admin: SDK start, 5 ms polls", times.sdkTight], ["    admin: SDK start, default polls", times.sdkDefault], ["    admin: POST /start (server polls)", times.sync]] as const) {
    const ratio = median(xs) / raw50;
    row(name, `${ms(median(xs))} ${ms(Math.max(...xs))}   ${ratio.toFixed(2)} ${verdict(ratio <= 1.3)}`);
  }

  // (b) and (c) on one sandbox through the admin and one raw container with a token we know.
  const viaAdmin = new Sandbox({ ...sandboxSpec, sandboxId: newId("b") });
  await viaAdmin.start();
  const raw: RawSandbox = await startRaw(engine, settings, newId("raw"), image, 1, 256 * 1024 ** 2);
  try {
    const timed = async (call: () => Promise<void>) => {
      const t = performance.now();
      await call();
      return performance.now() - t;
    };
    const expectHi = (stdout: string) => {
      if (stdout !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(stdout)}`);
    };
    const adminExec = () => timed(async () => expectHi((await viaAdmin.execute("echo hi")).stdout));
    const directExec = () => timed(async () => expectHi(((await (await rockletPost(raw, "/execute", { command: "echo hi", shell: true })).json()) as { stdout: string }).stdout));
    const engineExecOnce = () => timed(async () => expectHi(new TextDecoder().decode((await engineExec(socket, raw.containerId, ["/bin/sh", "-c", "echo hi"])).output.slice(8))));
    const cliExecOnce = () =>
      timed(async () => {
        const child = Bun.spawn(["docker", "-H", `unix://${socket}`, "exec", raw.containerId, "/bin/sh", "-c", "echo hi"], { stdout: "pipe", stderr: "ignore" });
        expectHi(await new Response(child.stdout).text());
        await child.exited;
      });
    for (const warm of [adminExec, directExec, engineExecOnce]) await sample(50, 1, warm);
    const adminTimes = await sample(calls, 1, adminExec);
    const directTimes = await sample(calls, 1, directExec);
    const engineTimes = await sample(Math.min(calls, 200), 1, engineExecOnce);
    const cliTimes = Bun.which("docker") ? await sample(Math.min(calls, 50), 1, cliExecOnce) : [];
    const a50 = percentile(adminTimes, 50);
    const a99 = percentile(adminTimes, 99);
    row(`(b) execute "echo hi", sequential (ms)`, "   p50     p99");
    row(`    admin /execute (${calls})`, `${ms(a50)} ${ms(a99)}   targets p50 ≤ 10 ${verdict(a50 <= 10)}, p99 ≤ 30 ${verdict(a99 <= 30)}`);
    row(`    rocklet /execute directly (${calls})`, `${ms(percentile(directTimes, 50))} ${ms(percentile(directTimes, 99))}`);
    row(`    docker exec, Engine API (${engineTimes.length})`, `${ms(percentile(engineTimes, 50))} ${ms(percentile(engineTimes, 99))}`);
    if (cliTimes.length) row(`    docker exec, CLI (${cliTimes.length})`, `${ms(percentile(cliTimes, 50))} ${ms(percentile(cliTimes, 99))}`);

    await viaAdmin.createSession("bench");
    if ((await rockletPost(raw, "/create_session", { session: "bench" })).status !== 200) throw new Error("create_session on the raw rocklet failed");
    const adminRun = () => timed(async () => expectHi(`${(await viaAdmin.arun("echo hi", { session: "bench" })).output}\n`));
    const directRun = () => timed(async () => expectHi(`${((await (await rockletPost(raw, "/run_in_session", { command: "echo hi", session: "bench", check: "silent" })).json()) as { output: string }).output}\n`));
    for (const warm of [adminRun, directRun]) await sample(50, 1, warm);
    const adminRuns = await sample(calls, 1, adminRun);
    const directRuns = await sample(calls, 1, directRun);
    const r50 = percentile(adminRuns, 50);
    row(`(c) run_in_session "echo hi", sequential (ms)`, "   p50     p99");
    row(`    admin /run_in_session (${calls})`, `${ms(r50)} ${ms(percentile(adminRuns, 99))}   target p50 ≤ 10 ${verdict(r50 <= 10)}`);
    row(`    rocklet /run_in_session directly (${calls})`, `${ms(percentile(directRuns, 50))} ${ms(percentile(directRuns, 99))}`);
  } finally {
    await viaAdmin.stop().catch(() => undefined);
    await removeRaw(engine, raw).catch(() => undefined);
  }

  // (d) 20 concurrent starts through the admin (small sandboxes), and the same 20 raw for scale.
  const many = Array.from({ length: CONCURRENT }, () => new Sandbox({ client, image, cpus: 0.1, memory: "64m", sandboxId: newId("d") }));
  const began = performance.now();
  const perSandbox: number[] = [];
  const results = await Promise.allSettled(many.map(async (s) => {
    await s.start();
    perSandbox.push(performance.now() - began);
  }));
  const wall = performance.now() - began;
  const ok = results.filter((r) => r.status === "fulfilled").length;
  for (const r of results) if (r.status === "rejected") console.error(`start failed: ${r.reason}`);
  await Promise.allSettled(many.map((s) => s.stop()));
  const leftovers = (await ourContainers()).length;

  const rawBegan = performance.now();
  const raws = await Promise.allSettled(Array.from({ length: CONCURRENT }, () => startRaw(engine, settings, newId("draw"), image, 0.1, 64 * 1024 ** 2)));
  const rawWall = performance.now() - rawBegan;
  for (const r of raws) if (r.status === "fulfilled") await removeRaw(engine, r.value);
  perSandbox.sort((x, y) => x - y);
  row(`(d) ${CONCURRENT} concurrent starts (64m, 0.1 cpu)`, "");
  row("    admin: success", `${ok}/${CONCURRENT} (${((100 * ok) / CONCURRENT).toFixed(0)} %) ${verdict(ok === CONCURRENT)}`);
  row("    admin: all alive after (ms)", `${ms(wall)}   per sandbox p50 ${ms(percentile(perSandbox, 50))}`);
  row("    raw dockerode, all alive after (ms)", `${ms(rawWall)}   (${raws.filter((r) => r.status === "fulfilled").length}/${CONCURRENT} ok)`);
  row("    our containers left after stop", `${leftovers} ${verdict(leftovers === 0)}`);
} finally {
  for (const c of await ourContainers()) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  admin.kill("SIGTERM");
  await admin.exited;
  project.remove();
}
console.log(`sandbox benchmark: admin in its own process, docker deployment, image ${image}, loopback; ${new Date().toISOString()}`);
for (const line of rows) console.log(line);
