/**
 * What the rocklet's runtime settings (plugins/protocol/rocklet-runtime.ts: JavaScriptCore's concurrent JIT and GC off,
 * one GC marker, no heap warm-up; they keep a fork bomb from aborting it) cost: two rocklets on the host, one started
 * with them and one without, `/execute` and `run_in_session` `echo hi` in alternating rounds, latency and each
 * rocklet's CPU time per call (from /proc).
 *
 *   bun test/bench/rocklet-runtime.ts [calls-per-round=500] [rounds=4]
 *   BENCH_ONLY=BUN_JSC_useConcurrentGC,… gives the tuned rocklet only those settings.
 */
import { readFileSync } from "node:fs";
import { ROCKLET_RUNTIME_ENV } from "../../plugins/protocol/rocklet-runtime.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { freePort, tempProject, waitForHttp } from "../support/project.ts";
import { ms, percentile } from "./support/measure.ts";

const calls = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 4);
const binary = await ensureRockletBinary();
const project = tempProject("rock-bench-rocklet-runtime-");
const token = `bench-${crypto.randomUUID()}`;
const CLOCK_TICKS = 100; // USER_HZ

async function startRocklet(extra: Record<string, string>) {
  const port = freePort();
  const child = Bun.spawn([binary, "--host", "127.0.0.1", "--port", String(port)], {
    env: { ...process.env, ...extra, ROCKLET_TOKEN: token },
    cwd: project.root,
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/is_alive`);
  return { child, url };
}
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
};

const plain = await startRocklet({});
const only = process.env.BENCH_ONLY?.split(",");
const tuned = await startRocklet(Object.fromEntries(Object.entries(ROCKLET_RUNTIME_ENV).filter(([k]) => !only || only.includes(k))));
const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
const post = async (url: string, path: string, body: unknown) => {
  const began = performance.now();
  const response = await fetch(url + path, { method: "POST", headers, body: JSON.stringify(body) });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return performance.now() - began;
};
for (const r of [plain, tuned]) await post(r.url, "/create_session", { session: "bench" });

const probes = [
  ["/execute", (url: string) => post(url, "/execute", { command: "echo hi" })],
  ["/run_in_session", (url: string) => post(url, "/run_in_session", { session: "bench", command: "echo hi", action_type: "bash" })],
] as const;
try {
  console.log(`rocklet runtime settings, ${rounds} alternating rounds of ${calls} calls (ms; CPU = the rocklet's per call)`);
  console.log("                               plain p50  tuned p50   ratio | plain CPU  tuned CPU   ratio");
  for (const [name, call] of probes) {
    const times = { plain: [] as number[], tuned: [] as number[] };
    const cpu = { plain: 0, tuned: 0 };
    for (let i = 0; i < 100; i++) await Promise.all([call(plain.url), call(tuned.url)]);
    for (let round = 0; round < rounds; round++) {
      for (const [label, r] of (round % 2 ? [["tuned", tuned], ["plain", plain]] : [["plain", plain], ["tuned", tuned]]) as ["plain" | "tuned", typeof plain][]) {
        const before = cpuMs(r.child.pid);
        for (let i = 0; i < calls; i++) times[label].push(await call(r.url));
        cpu[label] += cpuMs(r.child.pid) - before;
      }
    }
    const [p, t] = [percentile(times.plain, 50), percentile(times.tuned, 50)];
    const [cp, ct] = [cpu.plain / (calls * rounds), cpu.tuned / (calls * rounds)];
    console.log(`${name.padEnd(30)} ${ms(p)}    ${ms(t)}  ${(t / p).toFixed(2)}  |  ${ms(cp)}    ${ms(ct)}  ${(ct / cp).toFixed(2)}`);
  }
} finally {
  for (const r of [plain, tuned]) r.child.kill("SIGTERM");
  await Promise.all([plain.child.exited, tuned.child.exited]);
  project.remove();
}
