/**
 * Sandboxes on the two-node test swarm (test/env/swarm: the private engine as manager, zone=a; a second engine in a
 * network namespace as worker, zone=b) through the swarm operator vs a raw `docker service create`, all in this run.
 * The admin runs in its own process (`bun core/cli.ts`: swarm operator, admin).
 *
 *   (a) start → alive, pinned to zone a and b in turn: admin POST /start (returns once the rocklet answered), the
 *       operator in this process (submit, then the rocklet's is_alive), and dockerode createService of the same spec
 *       until its task runs and the rocklet answers;
 *   (b) 40 sandboxes started at once through the admin, placed by Swarm: all alive, the spread per node, the time;
 *       nothing left on either node after stop;
 *   (c) `echo hi` through the admin /execute, a sandbox on the worker vs one on the manager, calls interleaved.
 *
 *   bun test/bench/swarm.ts [starts-per-row=10] [calls-per-row=1000]   (run `bash test/env/up` first)
 */
import Docker from "dockerode";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { Operator } from "../../core/kinds/operator.ts";
import { RockClient, Sandbox } from "../../plugins/clients/sdk/index.ts";
import { ensureRockletBinary, sandboxSpec, waitAlive } from "../deployments/support.ts";
import { sandboxImage } from "../support/env.ts";
import { freePort, repoRoot, tempProject } from "../support/project.ts";
import { testSwarm } from "../support/swarm.ts";
import { ms, percentile } from "./support/measure.ts";
import { rawServiceSettings, removeRawService, startRawService } from "./support/raw-swarm.ts";
import { startRockProcess } from "./support/rock-process.ts";

const starts = Number(process.argv[2] ?? 10);
const calls = Number(process.argv[3] ?? 1000);
const MANY = 40;
const swarm = await testSwarm();
if (!swarm) throw new Error("no test swarm: run `bash test/env/up` first (the swarm needs root and network namespaces)");
const image = sandboxImage();
const binary = await ensureRockletBinary();
const manager = new Docker({ socketPath: swarm.managerSocket });
const worker = new Docker({ socketPath: swarm.workerSocket });
const nodes = { a: { addr: swarm.managerAddr, engine: manager }, b: { addr: swarm.workerAddr, engine: worker } };
const prefix = `bench-${process.pid}-`;
let counter = 0;
const newId = (tag: string) => `${prefix}${tag}${++counter}`;

const swarmConfig = `  swarm:\n    rocklet_binary: ${binary}\n    stop_timeout_seconds: 1\n`;
// The admin, in its own process.
const project = tempProject("rock-bench-swarm-");
const port = freePort();
const config = project.config(
  `log:\n  level: warn\ndocker:\n  socket: ${swarm.managerSocket}\nplugins:\n${swarmConfig}` +
    `  admin:\n    port: ${port}\n    operator: swarm\n    reconcile_interval_ms: 600000\n    rocklet_hosts: [${swarm.managerAddr}, ${swarm.workerAddr}]\n`,
);
const baseUrl = `http://127.0.0.1:${port}`;
const admin = await startRockProcess(config, `${baseUrl}/health`, join(project.root, "data"));
const client = new RockClient({ baseUrl });
// The operator alone, in this process (no admin, no HTTP in front of it).
const direct = tempProject("rock-bench-swarm-op-");
const kernel = await Kernel.load({
  root: repoRoot,
  configFile: direct.config(`log:\n  level: warn\ndocker:\n  socket: ${swarm.managerSocket}\nplugins:\n${swarmConfig}`),
  env: { ROCK_DATA_DIR: join(direct.root, "data") },
});
await kernel.start();
const operator = kernel.instance<{ operator: Operator }>("swarm")!.operator;
const rawSettings = rawServiceSettings(binary);

const rows: string[] = [];
const row = (name: string, cells: string) => rows.push(`${name.padEnd(48)} ${cells}`);
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");
const timed = async <T>(work: () => Promise<T>): Promise<[number, T]> => {
  const t = performance.now();
  const result = await work();
  return [performance.now() - t, result];
};

/** Our services, and our containers on each node. */
async function leftovers() {
  const ours = (labels: Record<string, string> | undefined) => labels?.["rock.sandbox_id"]?.startsWith(prefix);
  const services = (await manager.listServices()).filter((s) => ours(s.Spec?.Labels));
  const containers = await Promise.all([manager, worker].map(async (e) => (await e.listContainers({ all: true })).filter((c) => ours(c.Labels)).length));
  return { services: services.length, manager: containers[0], worker: containers[1] };
}

try {
  // (a) start → alive, the three paths in turn (their order rotating, so that none always follows the same
  // removal), each iteration on one zone (a, b, a, …) so that both nodes count.
  const times = { admin: [] as number[], operator: [] as number[], raw: [] as number[] };
  for (let i = 0; i < starts + 1; i++) {
    const zone = i % 2 === 0 ? "a" : "b";
    const paths: [keyof typeof times, () => Promise<number>][] = [
      ["admin", async () => {
        const [took, started] = await timed(() => client.start({ image, cpus: 0.25, memory: "128m", sandbox_id: newId("a"), placement: { zone } }));
        if (started.host_ip !== nodes[zone].addr) throw new Error(`zone ${zone} started on ${started.host_ip}`);
        await client.stop(started.sandbox_id);
        return took;
      }],
      ["operator", async () => {
        const spec = sandboxSpec(`${prefix}op`, { image, cpus: 0.25, memoryBytes: 128 * 1024 ** 2, pidsLimit: 4096, labels: { zone } });
        const [took] = await timed(async () => {
          const handle = await operator.submit(spec);
          await waitAlive(handle.rockletUrl, handle.rockletToken, 30_000);
        });
        await operator.stop(spec.sandbox_id);
        return took;
      }],
      ["raw", async () => {
        const [took, raw] = await timed(() => startRawService(manager, rawSettings, newId("raw"), image, zone, nodes[zone].addr, 0.25, 128 * 1024 ** 2));
        await removeRawService(manager, raw, [manager, worker]);
        return took;
      }],
    ];
    for (let k = 0; k < paths.length; k++) {
      const [name, run] = paths[(i + k) % paths.length];
      const took = await run();
      if (i > 0) times[name].push(took); // the first round warms up
    }
  }
  const raw50 = median(times.raw);
  row(`(a) start→alive, ${starts} each, zones a/b in turn (ms)`, "   p50     max   ratio p50 (target ≤ 1.2)");
  row("    raw createService, 20 ms task polls", `${ms(raw50)} ${ms(Math.max(...times.raw))}`);
  for (const [name, xs] of [["    operator submit + rocklet is_alive", times.operator], ["    admin POST /start (until the rocklet answers)", times.admin]] as const) {
    const ratio = median(xs) / raw50;
    row(name, `${ms(median(xs))} ${ms(Math.max(...xs))}   ${ratio.toFixed(2)} ${verdict(ratio <= 1.2)}`);
  }

  // (b) 40 at once, small enough that either node takes all of them: Swarm spreads them.
  const many = Array.from({ length: MANY }, () => new Sandbox({ client, image, cpus: 0.04, memory: "64m", sandboxId: newId("m") }));
  const began = performance.now();
  const results = await Promise.allSettled(many.map((s) => s.start()));
  const wall = performance.now() - began;
  const ok = results.filter((r) => r.status === "fulfilled").length;
  for (const r of results) if (r.status === "rejected") console.error(`start failed: ${r.reason}`);
  const onManager = many.filter((s) => s.startResult?.host_ip === swarm.managerAddr).length;
  const onWorker = many.filter((s) => s.startResult?.host_ip === swarm.workerAddr).length;
  const stopBegan = performance.now();
  await Promise.allSettled(many.map((s) => s.stop()));
  const stopWall = performance.now() - stopBegan;
  let left = await leftovers();
  for (const until = Date.now() + 20_000; Date.now() < until && left.manager + left.worker > 0; await Bun.sleep(200)) left = await leftovers();
  // The same 40 as raw services, half pinned to each node (as Swarm spread the admin's), for scale.
  const rawBegan = performance.now();
  const raws = await Promise.allSettled(
    Array.from({ length: MANY }, (_, i) => {
      const zone = i % 2 === 0 ? "a" : "b";
      return startRawService(manager, rawSettings, newId("mraw"), image, zone, nodes[zone].addr, 0.04, 64 * 1024 ** 2);
    }),
  );
  const rawWall = performance.now() - rawBegan;
  await Promise.allSettled(raws.map((r) => (r.status === "fulfilled" ? removeRawService(manager, r.value, [manager, worker]) : undefined)));
  row(`(b) ${MANY} starts at once through the admin (0.04 cpu, 64m)`, "");
  row("    alive", `${ok}/${MANY} ${verdict(ok === MANY)}`);
  row("    on manager (zone a) / worker (zone b)", `${onManager} / ${onWorker}   ${verdict(Math.abs(onManager - onWorker) <= MANY / 5)} (equal nodes: about half each)`);
  row("    all alive after (ms)", `${ms(wall)}   all stopped after ${ms(stopWall)}`);
  row("    raw createService, 20 a + 20 b, all alive (ms)", `${ms(rawWall)}   (${raws.filter((r) => r.status === "fulfilled").length}/${MANY} ok), ratio ${(wall / rawWall).toFixed(2)}`);
  row("    left after stop: services, containers a, b", `${left.services}, ${left.manager}, ${left.worker} ${verdict(left.services + left.manager + left.worker === 0)}`);

  // (c) execute through the admin: one sandbox per node, calls interleaved so that drift hits both alike.
  const pinned = (zone: "a" | "b") => new Sandbox({ client, image, cpus: 0.25, memory: "128m", sandboxId: newId(`c${zone}`), placement: { zone } });
  const here = pinned("a");
  const there = pinned("b");
  await Promise.all([here.start(), there.start()]);
  try {
    const once = async (sandbox: Sandbox) => {
      const [took, result] = await timed(() => sandbox.execute("echo hi"));
      if (result.stdout !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(result.stdout)}`);
      return took;
    };
    for (let i = 0; i < 50; i++) {
      await once(here);
      await once(there);
    }
    const onA: number[] = [];
    const onB: number[] = [];
    for (let i = 0; i < calls; i++) {
      if (i % 2 === 0) {
        onA.push(await once(here));
        onB.push(await once(there));
      } else {
        onB.push(await once(there));
        onA.push(await once(here));
      }
    }
    onA.sort((x, y) => x - y);
    onB.sort((x, y) => x - y);
    const a50 = percentile(onA, 50);
    const b50 = percentile(onB, 50);
    row(`(c) admin /execute "echo hi", ${calls} each, interleaved (ms)`, "   p50     p99");
    row(`    sandbox on the manager (${swarm.managerAddr})`, `${ms(a50)} ${ms(percentile(onA, 99))}`);
    row(`    sandbox on the worker (${swarm.workerAddr})`, `${ms(b50)} ${ms(percentile(onB, 99))}`);
    row("    worker − manager, p50", `${ms(b50 - a50)}   target within 1 ms ${verdict(Math.abs(b50 - a50) <= 1)}`);
  } finally {
    await Promise.allSettled([here.stop(), there.stop()]);
  }
} finally {
  for (const s of await manager.listServices()) {
    if (s.Spec?.Labels?.["rock.sandbox_id"]?.startsWith(prefix)) await manager.getService(s.ID).remove().catch(() => undefined);
  }
  admin.kill("SIGTERM");
  await admin.exited;
  await kernel.stop();
  project.remove();
  direct.remove();
}
console.log(`swarm benchmark: two-node test swarm on one machine, admin in its own process, image ${image}; ${new Date().toISOString()}`);
for (const line of rows) console.log(line);
