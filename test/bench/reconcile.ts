/**
 * The admin's reconciler and idle scanner over N docker sandboxes (default 200), against the test environment's
 * private engine and Redis (run `bash test/env/up` first). The containers run `sleep` with the docker deployment's
 * labels and names, and their records are written by the admin's own SandboxRecords, so that N sandboxes cost no N
 * rocklets; what is measured is the admin's work and the engine's answers.
 *
 *   (a) a pass where everything agrees (the steady state);
 *   (b) a pass after the store lost every key (N hot states rebuilt from the records);
 *   (c) a pass after every container died (N records failed with why, N containers removed);
 *   (d) CPU of the admin's process, the engine and Redis while nothing changes, with both timers at 1 s, and what that
 *       is at the default intervals (reconcile 30 s, idle scan 60 s). Target: (a)-(c) under 5 s, (d) under 1 % of a core.
 *
 *   bun test/bench/reconcile.ts [sandboxes=200] [idle-seconds=20]
 */
import Docker from "dockerode";
import Redis from "ioredis";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { openDatabase } from "../../core/db.ts";
import { Kernel } from "../../core/kernel.ts";
import { MemoryStore } from "../../core/store/memory.ts";
import type { SandboxSpec } from "../../core/kinds/deployment.ts";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";
import { SandboxRecords } from "../../plugins/services/admin/sandbox-records.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { dockerSocket, redisUrl, sandboxImage } from "../support/env.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const count = Number(process.argv[2] ?? 200);
const idleSeconds = Number(process.argv[3] ?? 20);
const socket = dockerSocket();
const redisAt = redisUrl();
if (!socket || !redisAt) throw new Error("no test Docker engine or Redis: run `bash test/env/up` first");
const engine = new Docker({ socketPath: socket });
const redis = new Redis(redisAt);
const prefix = `bench-reconcile-${process.pid}:`;
const idPrefix = `benchrec-${process.pid}-`;
const ids = Array.from({ length: count }, (_, i) => `${idPrefix}${i}`);
const project = tempProject("rock-bench-reconcile-");
const binary = await ensureRockletBinary();

const rows: string[] = [];
const row = (name: string, cells: string) => rows.push(`${name.padEnd(66)} ${cells}`);
const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");

async function eachAtMost<T>(limit: number, items: T[], work: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** CPU seconds (user + system) a process used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const dockerdPid = Number(readFileSync(join(dirname(socket), "dockerd.pid"), "utf8"));
const redisPid = Number((await redis.info("server")).match(/process_id:(\d+)/)![1]);

async function boot(intervalMs: number): Promise<{ kernel: Kernel; maintenance: Maintenance }> {
  const yaml =
    `log:\n  level: error\nstore:\n  type: redis\n  url: ${redisAt}\n  key_prefix: "${prefix}"\ndocker:\n  socket: ${socket}\n` +
    `plugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n  local-operator:\n    deployment: docker\n` +
    `  admin:\n    port: 0\n    reconcile_interval_ms: ${intervalMs}\n    idle_scan_interval_ms: ${intervalMs}\n`;
  const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
  return { kernel, maintenance: kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance };
}

async function timedPass(maintenance: Maintenance) {
  const began = performance.now();
  const outcome = await maintenance.reconcile();
  return { ms: performance.now() - began, outcome };
}

try {
  // N running containers with the docker deployment's names and labels, and N running records.
  const began = performance.now();
  await eachAtMost(8, ids, async (id) => {
    const container = await engine.createContainer({
      name: `rock-${id}`,
      Image: sandboxImage(),
      Entrypoint: ["sleep"],
      Cmd: ["3600"],
      Labels: { "rock.managed": "true", "rock.plugin": "docker", "rock.sandbox_id": id },
      HostConfig: { Memory: 16 * 1024 ** 2, NanoCpus: 0.05e9, Init: true },
    });
    await container.start();
  });
  console.log(`${count} containers started in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  // Written to the admin's copy (through a store of their own): the admin puts them into Redis when it starts.
  const records = new SandboxRecords(openDatabase(join(project.root, "data", "admin.sqlite")), new MemoryStore(), { adminId: "bench", retentionMs: 7 * 24 * 3600 * 1000 });
  for (const id of ids) {
    const spec: SandboxSpec = { sandbox_id: id, image: sandboxImage(), cpus: 0.05, memoryBytes: 16 * 1024 ** 2, pidsLimit: 64, env: {}, rockletToken: `token-${id}`, labels: {} };
    await records.create(spec, { user_id: "default", experiment_id: "default", namespace: "default", memory: "16m", auto_clear_time: 30 });
    await records.placed(id, { host_ip: "127.0.0.1", host_name: "bench", port_mapping: {}, rocklet_url: "http://127.0.0.1:9", rocklet_token: `token-${id}` });
    await records.transition(id, "alive");
  }

  // (a), (b): the hot state is empty at first, so the pass at start-up rebuilds it; then steady passes.
  let admin = await boot(600_000);
  const rebuiltAtStart = (await redis.keys(`${prefix}sandbox:alive:*`)).length;
  const steady: number[] = [];
  for (let i = 0; i < 5; i++) {
    const pass = await timedPass(admin.maintenance);
    if (Object.values(pass.outcome).some((list) => list.length)) throw new Error(`a steady pass changed something: ${JSON.stringify(pass.outcome)}`);
    steady.push(pass.ms);
  }
  steady.sort((a, b) => a - b);
  row(`(a) pass, ${count} sandboxes agreeing (median of 5)`, `${steady[2].toFixed(0).padStart(6)} ms   ${verdict(steady[2] < 5000)}`);
  await redis.del(...(await redis.keys(`${prefix}*`)));
  const rebuild = await timedPass(admin.maintenance);
  if (rebuild.outcome.rebuilt.length !== count || rebuiltAtStart !== count) throw new Error(`expected ${count} rebuilt, got ${rebuild.outcome.rebuilt.length} (${rebuiltAtStart} at start)`);
  row(`(b) pass rebuilding ${count} hot states`, `${rebuild.ms.toFixed(0).padStart(6)} ms   ${verdict(rebuild.ms < 5000)}`);
  await admin.kernel.stop();

  // (d) CPU while nothing changes: the same idle window with the timers off, then with both at 1 s.
  const pct = (share: number) => `${(share * 100).toFixed(2).padStart(6)} %`;
  const idle = async (intervalMs: number) => {
    const booted = await boot(intervalMs);
    await Bun.sleep(1500);
    const before = { self: process.cpuUsage(), dockerd: cpuSeconds(dockerdPid), redis: cpuSeconds(redisPid) };
    await Bun.sleep(idleSeconds * 1000);
    const used = process.cpuUsage(before.self);
    const shares = [(used.user + used.system) / 1e6, cpuSeconds(dockerdPid) - before.dockerd, cpuSeconds(redisPid) - before.redis].map((s) => s / idleSeconds);
    await booted.kernel.stop();
    return shares;
  };
  const off = await idle(600_000);
  const on = await idle(1000);
  row("(d) idle, timers off: admin process / dockerd / redis", off.map(pct).join(" ") + " of a core");
  row("(d) idle, timers at 1 s: admin process / dockerd / redis", on.map(pct).join(" ") + " of a core");
  // What the timers add, all three processes together; at the defaults a reconcile pass runs every 30 s and an idle
  // scan every 60 s, so at most a thirtieth of it.
  const timers = on.reduce((a, b) => a + b, 0) - off.reduce((a, b) => a + b, 0);
  row("(d) the timers' cost at 1 s / at the defaults (30 s, 60 s)", `${pct(timers)} / ${pct(timers / 30)} of a core   ${verdict(timers / 30 < 0.01)}`);

  // (c) every container died: N records failed with why, N containers removed.
  admin = await boot(600_000);
  await eachAtMost(16, ids, (id) => engine.getContainer(`rock-${id}`).kill());
  const failed = await timedPass(admin.maintenance);
  if (failed.outcome.stoppedRecords.length !== count) throw new Error(`expected ${count} failed, got ${JSON.stringify(failed.outcome).slice(0, 300)}`);
  row(`(c) pass failing ${count} dead sandboxes, removing their containers`, `${failed.ms.toFixed(0).padStart(6)} ms   ${verdict(failed.ms < 5000)}`);
  await admin.kernel.stop();
} finally {
  const ours = await engine.listContainers({ all: true, filters: { label: ["rock.managed=true"] } });
  await eachAtMost(16, ours.filter((c) => c.Labels["rock.sandbox_id"]?.startsWith(idPrefix)), (c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined));
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  project.remove();
}
console.log(rows.join("\n"));
