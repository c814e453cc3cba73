/**
 * Round trip of one LLM call through the local-mode bridge: the agent posts /v1/chat/completions, the service appends
 * the request to the log file, the trainer sees it, appends its answer, the service sees that and answers the agent.
 * Three processes, as in a sandbox: this agent, the service (`model-service start`), the trainer. ROCK polls the
 * file every 0.1 s in the service and every 1 s in its client, so its round trip is bounded below by those polls.
 *
 *   bun test/bench/model-service.ts [calls-per-row]
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { freePort, repoRoot } from "../support/project.ts";
import { ms, percentile, sample, spawnAndReadLine } from "./support/measure.ts";

const count = Number(process.argv[2] ?? 2000);
const main = join(repoRoot, "plugins/programs/model-service/main.ts");
const base = join(repoRoot, "test", ".tmp", "model-service");
mkdirSync(base, { recursive: true });
const dir = mkdtempSync(join(base, "bench-"));
const port = freePort();
const env = { ...process.env, LOG_FILE: join(dir, "LLMService.log"), SERVICE_PORT: String(port), SERVICE_HOST: "127.0.0.1" };
const cli = (...args: string[]) => Bun.spawnSync([process.execPath, main, ...args], { env, stdout: "pipe", stderr: "inherit" });

if (cli("start", "--type", "local").exitCode !== 0) throw new Error("the model service did not start");
const url = `http://127.0.0.1:${port}/v1/chat/completions`;
const body = (stream: boolean) => JSON.stringify({ model: "policy", stream, messages: [{ role: "user", content: "next action?" }] });

let calls = 0;
async function call(stream: boolean): Promise<number> {
  calls++;
  const began = performance.now();
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: body(stream) });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return performance.now() - began;
}

console.log(`model-service bridge round trip (agent → log → trainer → log → agent), loopback, times in ms`);
console.log("trainer                        mode        conc   calls |    p50     p90     p99");
const row = (trainer: string, mode: string, concurrency: number, times: number[]) =>
  console.log(`${trainer.padEnd(30)} ${mode.padEnd(11)} ${String(concurrency).padStart(4)} ${String(times.length).padStart(7)} | ${ms(percentile(times, 50))} ${ms(percentile(times, 90))} ${ms(percentile(times, 99))}`);

const { child: trainer } = await spawnAndReadLine([process.execPath, join(repoRoot, "test/model-service/support/echo-trainer.ts"), env.LOG_FILE]);
await sample(200, 1, () => call(false));
for (const stream of [false, true]) {
  for (const concurrency of [1, 8]) row("library client (file watch)", stream ? "stream" : "non-stream", concurrency, await sample(count, concurrency, () => call(stream)));
}
trainer.kill();
await trainer.exited;

// The trainer as ROCK's SDK drives it from outside the sandbox: one `anti-call-llm` process per call, each answering
// call k and then waiting for request k+1, so every round trip includes starting one such process. (The first one
// repeats the library trainer's last answer, which the client notes on stderr and skips.)
const answer = '{"choices":[{"message":{"role":"assistant","content":"ok"}}]}';
let current: ReturnType<typeof Bun.spawn> | undefined;
let running = true;
const cliTrainer = (async () => {
  for (let index = calls; running; index++) {
    current = Bun.spawn([process.execPath, main, "anti-call-llm", "--index", String(index), "--response", answer], { env, stdout: "ignore", stderr: "ignore" });
    await current.exited;
  }
})();
row("anti-call-llm process per call", "non-stream", 1, await sample(Math.min(count, 100), 1, () => call(false)));
running = false;
current?.kill();
await cliTrainer;
console.log(`ROCK, by its polls: the service re-reads the file every 100 ms and the client every 1000 ms (≥ 100 ms per call)`);

cli("stop");
rmSync(dir, { recursive: true, force: true });
