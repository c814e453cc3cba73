/**
 * Worker chat through the Agent vs the same worker called directly: time to first byte and total time, at
 * concurrency 1 and 8, in alternating rounds (direct, [baseline Agent,] this Agent) so that a slow moment of the
 * machine hits each of them. Processes on loopback: this client, the Agent(s), the example worker with OpenCC on both
 * sides of the echo model.
 *
 *   bun test/bench/worker-agent.ts [requests-per-round] [rounds] [baseline-checkout]
 *
 * A baseline checkout (e.g. `git archive <commit> | tar -x -C ../before`, plus node_modules) runs its own Agent beside
 * this one, with the same worker registered. `BENCH_REDIS_URL` puts the Agents' stores on that Redis (each its own
 * key prefix) instead of in-process.
 */
import { readFileSync } from "node:fs";
import { percentile, ms, sample } from "./support/measure.ts";
import { eventually, form, history, startAgent, startWorker, stop, type AgentProc } from "../workers/support.ts";

const requests = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 1);
const baselineRoot = process.argv[4];
const redisUrl = process.env.BENCH_REDIS_URL;
const input = history(["我用鼠标打开软件，", false]);

const agentOptions = (name: string) => ({
  agent: { health_interval_ms: 5000 },
  ...(redisUrl ? { redisUrl, keyPrefix: `bench-${name}-${process.pid}:` } : {}),
});
const agent = await startAgent(agentOptions("current"));
const baseline: AgentProc | undefined = baselineRoot ? await startAgent({ ...agentOptions("baseline"), root: baselineRoot }) : undefined;
const worker = await startWorker("workers/example", { AGENT_ENDPOINT: agent.v1, CONCURRENT_LIMIT: "8", ROCK_LOG_LEVEL: "warn" });
const listed = async (a: AgentProc) => ((await (await fetch(`${a.v1}worker/list?name=example`)).json()) as string[]).length === 1;
await eventually(() => listed(agent), 10_000, "worker registered");
if (baseline) {
  await fetch(`${baseline.v1}worker/register`, { method: "POST", body: form({ name: "example", endpoint: worker.endpoint, slots: "8" }) });
  await eventually(() => listed(baseline), 10_000, "worker registered with the baseline");
}

type Target = { url: string; fields: Record<string, string>; pid?: number };
const targets: Record<string, Target> = {
  direct: { url: worker.endpoint, fields: { input } },
  ...(baseline ? { baseline: { url: `${baseline.v1}chat/completions`, fields: { name: "example", input }, pid: baseline.child.pid } } : {}),
  agent: { url: `${agent.v1}chat/completions`, fields: { name: "example", input }, pid: agent.child.pid },
};

/** CPU time (user + system) a process has used so far, in ms (10 ms resolution). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One request: [time to first byte, total] in ms. */
async function once(target: Target): Promise<[number, number]> {
  const start = performance.now();
  const response = await fetch(target.url, { method: "POST", body: form(target.fields) });
  const reader = response.body!.getReader();
  let first = 0;
  let text = "";
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!first) first = performance.now() - start;
    text += decoder.decode(value, { stream: true });
  }
  if (response.status !== 200 || text !== "我用滑鼠開啟軟體，") throw new Error(`unexpected answer ${response.status}: ${text}`);
  return [first, performance.now() - start];
}

/** p50 and p99 of time to first byte and of the whole answer, over one round; the Agent's CPU µs per request. */
async function round(target: Target, concurrency: number) {
  const cpuBefore = cpuMs(target.pid);
  const ttfb: number[] = [];
  const total = await sample(requests, concurrency, async () => {
    const [first, all] = await once(target);
    ttfb.push(first);
    return all;
  });
  ttfb.sort((a, b) => a - b);
  return [percentile(ttfb, 50), percentile(ttfb, 99), percentile(total, 50), percentile(total, 99), ((cpuMs(target.pid) - cpuBefore) * 1000) / requests];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

try {
  for (const target of Object.values(targets)) await sample(300, 8, async () => (await once(target))[1]); // warm-up
  console.log(`${requests} requests per round, ${rounds} alternating round(s), medians over rounds; ${redisUrl ? "Redis" : "in-process"} store; ms\n`);
  console.log("concurrency  path      ttfb p50  ttfb p99  total p50  total p99  Agent CPU µs/request");
  for (const concurrency of [1, 8]) {
    const results: Record<string, number[][]> = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
    for (let i = 0; i < rounds; i++) for (const [name, target] of Object.entries(targets)) results[name].push(await round(target, concurrency));
    const medians = Object.fromEntries(Object.entries(results).map(([name, rows]) => [name, [0, 1, 2, 3, 4].map((column) => median(rows.map((row) => row[column])))]));
    for (const [name, row] of Object.entries(medians)) console.log(`${String(concurrency).padStart(11)}  ${name.padEnd(8)} ${row.map(ms).join("   ")}`);
    for (const name of Object.keys(targets).filter((name) => name !== "direct")) {
      console.log(`${"".padStart(11)}  added by ${name}: ${[0, 1, 2, 3].map((column) => ms(medians[name][column] - medians.direct[column])).join("   ")}`);
    }
    if (baseline) console.log(`${"".padStart(11)}  agent / baseline ttfb p50: ${(medians.agent[0] / medians.baseline[0]).toFixed(3)}`);
    console.log();
  }
} finally {
  await stop(worker);
  await Promise.all([stop(agent), stop(baseline)]);
}
