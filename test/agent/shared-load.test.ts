/**
 * Several Agents (`bun core/cli.ts`, agent plugin only) on one Redis share each worker's load: a worker's slots are
 * never overbooked by their sum, a slot an Agent gives back is free for the others at once, and the slots of an
 * Agent that died come back within `load_lease_ms`. Workers are real: the slow-reflect worker, and a loopback
 * server of the test's own that counts the streams it serves at once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { redisServerProgram, privateRedis, type PrivateRedis } from "../faults/support.ts";
import { available, redisUrl } from "../support/env.ts";
import { eventually, form, history, seriesValue, startAgent, startWorker, stop, type AgentProc, type WorkerProc } from "../workers/support.ts";

const LEASE_MS = 3000;
const busy = (name: string) => `Every worker of '${name}' is busy; try again later.`;

const post = (agent: AgentProc, path: string, fields: Record<string, string>) => fetch(`${agent.v1}${path}`, { method: "POST", body: form(fields) });
const chat = (agent: AgentProc, name: string, text: string) => post(agent, "chat/completions", { name, input: history([text, false]) });
const listed = async (agent: AgentProc, name: string): Promise<string[]> => (await fetch(`${agent.v1}worker/list?name=${name}`)).json();
const workerCounter = async (worker: WorkerProc, counter: string) => seriesValue(await (await fetch(`${worker.url}/metrics`)).text(), counter) ?? 0;

/**
 * A worker that streams `chunks` pieces `pauseMs` apart and records how many streams it serves at once; it takes no
 * more than it is asked to, so only the Agents keep it within its slots. An input with "fail" gets a 500.
 */
function countingWorker(chunks = 4, pauseMs = 40) {
  const counts = { now: 0, max: 0, served: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/health") return new Response(null, { status: 204 });
      if (path !== "/chat") return new Response("no such route", { status: 404 });
      if ((await request.text()).includes("fail")) return new Response("broken", { status: 500 });
      counts.now++;
      counts.max = Math.max(counts.max, counts.now);
      let sent = 0;
      let open = true;
      const done = () => {
        if (open) counts.now--;
        open = false;
      };
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await Bun.sleep(pauseMs);
            controller.enqueue(new TextEncoder().encode("x"));
            if (++sent === chunks) {
              done();
              counts.served++;
              controller.close();
            }
          },
          cancel: done,
        }),
        { headers: { "content-type": "text/plain; charset=utf-8" } },
      );
    },
  });
  return { counts, endpoint: `http://127.0.0.1:${server.port}/chat`, stop: () => server.stop(true) };
}

describe.skipIf(!available("redis", redisUrl()))("two Agents on one Redis", () => {
  const keyPrefix = `agent-load-${process.pid}-${Date.now()}:`;
  const startOne = (agent: Record<string, unknown> = {}) =>
    startAgent({ redisUrl: redisUrl(), keyPrefix, agent: { health_interval_ms: 200, load_lease_ms: LEASE_MS, ...agent } });
  const redis = new Redis(redisUrl()!, { maxRetriesPerRequest: 1 });
  const loadKeys = () => redis.keys(`${keyPrefix}agent:load:*`);
  let a: AgentProc;
  let b: AgentProc;
  let slow: WorkerProc;

  beforeAll(async () => {
    [a, b] = await Promise.all([startOne(), startOne()]);
    // One slot (CONCURRENT_LIMIT), ten characters 100 ms apart per answer below.
    slow = await startWorker("workers/slow-reflect", { AGENT_ENDPOINT: a.v1, LLM_NAME: "one-slot", CONCURRENT_LIMIT: "1", CHECK_INTERVAL_MS: "60000" });
    await eventually(async () => (await listed(a, "one-slot")).length === 1 && (await listed(b, "one-slot")).length === 1, 10_000, "both Agents know the worker");
  });
  afterAll(async () => {
    await stop(slow, "SIGKILL");
    await Promise.all([stop(a), stop(b)]);
    redis.disconnect();
  });

  test("a slot held through Agent A is busy for Agent B until A's conversation ends", async () => {
    const first = await chat(a, "one-slot", "abcdefghij");
    expect(first.status).toBe(200);
    const during = await chat(b, "one-slot", "x");
    expect([during.status, await during.text()]).toEqual([503, busy("one-slot")]);
    expect(await (await post(b, "worker/schedule", { name: "one-slot", history_id: "1", user_id: "u" })).text()).toBe("BUSY");
    expect(await first.text()).toBe("abcdefghij");

    // Given back when it ends, not when its lease lapses (the chat took it less than a lease ago): B gets the worker.
    let after: Response | undefined;
    await eventually(async () => (after = await chat(b, "one-slot", "ok")).status === 200, LEASE_MS - 1200, "B gets the worker");
    expect(await after!.text()).toBe("ok");
    // The worker never had to refuse a chat: the Agents kept it within its slot.
    expect(await workerCounter(slow, "worker_api_rejected_requests_total")).toBe(0);
    await eventually(async () => (await loadKeys()).length === 0, 2000, "no load left in the store");
  }, 30_000);

  test("a conversation longer than the lease keeps its slot: the holder renews it", async () => {
    const text = "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"; // 4 s
    const long = await chat(a, "one-slot", text);
    expect(long.status).toBe(200);
    await Bun.sleep(LEASE_MS + 300);
    const during = await chat(b, "one-slot", "x");
    expect([during.status, await during.text()]).toEqual([503, busy("one-slot")]);
    expect(await long.text()).toBe(text);
    expect(await workerCounter(slow, "worker_api_rejected_requests_total")).toBe(0);
  }, 30_000);

  test("parallel chats split across both Agents never exceed a worker's slots", async () => {
    const worker = countingWorker();
    try {
      expect(await (await post(a, "worker/register", { name: "counted", endpoint: worker.endpoint, slots: "2" })).text()).toBe("Success");
      await eventually(async () => (await listed(b, "counted")).length === 1, 5000, "B knows the worker");
      const served = { a: 0, b: 0 };
      // Eight clients, four per Agent, three answers each; a busy answer is retried after a pause.
      const client = async (agent: AgentProc, which: "a" | "b") => {
        for (let answers = 0; answers < 3; ) {
          const response = await chat(agent, "counted", "hi");
          const text = await response.text();
          if (response.status === 503 && text === busy("counted")) {
            await Bun.sleep(5);
            continue;
          }
          expect([response.status, text]).toEqual([200, "xxxx"]);
          answers++;
          served[which]++;
        }
      };
      await Promise.all([0, 1, 2, 3].flatMap(() => [client(a, "a"), client(b, "b")]));
      expect(served).toEqual({ a: 12, b: 12 });
      expect(worker.counts.served).toBe(24);
      expect(worker.counts.max).toBe(2);
      await eventually(async () => (await loadKeys()).length === 0, 2000, "no load left in the store");
    } finally {
      await post(a, "worker/unregister", { name: "counted", endpoint: worker.endpoint });
      worker.stop();
    }
  }, 60_000);

  test("every end of a conversation gives its slot back once: done, client gone, worker error, chat/abort", async () => {
    const worker = countingWorker(50, 40); // 2 s per answer
    try {
      expect(await (await post(a, "worker/register", { name: "ends", endpoint: worker.endpoint, slots: "2" })).text()).toBe("Success");
      const stored = async () => {
        const [key] = await loadKeys();
        return key ? Object.values(JSON.parse((await redis.get(key))!) as Record<string, { n: number }>).map((entry) => entry.n) : [];
      };
      // One conversation holds a slot throughout; after each other one ends, exactly that one is left.
      const holding = await chat(a, "ends", "hi");
      expect(holding.status).toBe(200);
      const settled = async () => {
        await Bun.sleep(150);
        expect(await stored()).toEqual([1]);
      };

      const leaving = new AbortController();
      const left = await fetch(`${a.v1}chat/completions`, { method: "POST", body: form({ name: "ends", input: history(["hi", false]) }), signal: leaving.signal });
      expect(left.status).toBe(200);
      expect(await stored()).toEqual([2]);
      leaving.abort();
      await settled();

      const failed = await chat(a, "ends", "fail");
      expect([failed.status, await failed.text()]).toEqual([500, "The worker for 'ends' answered 500: broken"]);
      await settled();

      const aborted = await post(a, "chat/completions", { name: "ends", history_id: "9", user_id: "u", input: history(["hi", false]) });
      expect(aborted.status).toBe(200);
      expect(await (await post(a, "chat/abort", { history_id: "[9]", user_id: "u" })).text()).toBe("Success");
      expect((await aborted.text()).length).toBeLessThan(50);
      await settled();

      expect(await holding.text()).toBe("x".repeat(50));
      await eventually(async () => (await loadKeys()).length === 0, 2000, "no load left in the store");
    } finally {
      await post(a, "worker/unregister", { name: "ends", endpoint: worker.endpoint });
      worker.stop();
    }
  }, 30_000);

  test("a conversation scheduled through A is served through B; chat/abort through B drops A's reservation", async () => {
    const reservationKeys = () => redis.keys(`${keyPrefix}agent:reservation:*`);
    const schedule = (agent: AgentProc, historyId: string) => post(agent, "worker/schedule", { name: "one-slot", history_id: historyId, user_id: "u" });
    expect(await (await schedule(a, "20")).text()).toBe("READY");
    expect(await (await schedule(b, "20")).text()).toBe("READY"); // the same conversation: the same slot
    expect(await (await schedule(b, "21")).text()).toBe("BUSY");
    const unscheduled = await chat(b, "one-slot", "x");
    expect([unscheduled.status, await unscheduled.text()]).toEqual([503, busy("one-slot")]);
    const scheduled = await post(b, "chat/completions", { name: "one-slot", history_id: "20", user_id: "u", input: history(["ok", false]) });
    expect([scheduled.status, await scheduled.text()]).toEqual([200, "ok"]);
    expect(await reservationKeys()).toEqual([]);
    await eventually(async () => (await loadKeys()).length === 0, 2000, "no load left in the store");

    expect(await (await schedule(a, "22")).text()).toBe("READY");
    expect(await (await post(b, "chat/abort", { history_id: "[22]", user_id: "u" })).text()).toBe("Success");
    expect(await reservationKeys()).toEqual([]);
    expect(await loadKeys()).toEqual([]);
    const free = await chat(b, "one-slot", "ok");
    expect([free.status, await free.text()]).toEqual([200, "ok"]);
  }, 30_000);

  test("an unclaimed reservation lapses after reservation_ttl_ms, though the Agent that made it died", async () => {
    const ttl = 1000;
    // A lease far longer than the reservation: only the reservation's own expiry can free the slot.
    const c = await startOne({ reservation_ttl_ms: ttl, load_lease_ms: 60_000 });
    try {
      await eventually(async () => (await listed(c, "one-slot")).length === 1, 5000, "C knows the worker");
      expect(await (await post(c, "worker/schedule", { name: "one-slot", history_id: "30", user_id: "u" })).text()).toBe("READY");
      const reserved = Date.now();
      await stop(c, "SIGKILL");
      expect((await chat(b, "one-slot", "x")).status).toBe(503);
      let after: Response | undefined;
      await eventually(async () => (after = await chat(b, "one-slot", "ok")).status === 200, 3 * ttl, "the reservation lapsed");
      expect(Date.now() - reserved).toBeGreaterThanOrEqual(ttl);
      expect(await after!.text()).toBe("ok");
      await eventually(async () => (await redis.keys(`${keyPrefix}agent:*`)).every((key) => key.includes(":worker:")), 2000, "only registrations left");
    } finally {
      await stop(c, "SIGKILL");
    }
  }, 30_000);

  test("an Agent killed while it holds a slot: the slot comes back within the lease", async () => {
    const held = await chat(a, "one-slot", "abcdefghijklmnopqrst");
    expect(held.status).toBe(200);
    const [key] = await loadKeys();
    expect(Object.values(JSON.parse((await redis.get(key))!))).toEqual([{ n: 1, until: expect.any(Number) }]);
    await stop(a, "SIGKILL");
    const killed = Date.now();
    const during = await chat(b, "one-slot", "x");
    expect([during.status, await during.text()]).toEqual([503, busy("one-slot")]);

    let after: Response | undefined;
    await eventually(async () => (after = await chat(b, "one-slot", "ok")).status === 200, 2 * LEASE_MS, "B gets the worker");
    expect(Date.now() - killed).toBeLessThan(LEASE_MS + 1000);
    expect(await after!.text()).toBe("ok");
    // B's write dropped the dead Agent's entry; B gave its own back.
    await eventually(async () => (await loadKeys()).length === 0, 2000, "no load left in the store");
    a = await startOne();
  }, 30_000);

  test("an Agent restarted under its own agent_id takes back what its killed run held at once", async () => {
    const long = 60_000;
    let c = await startOne({ agent_id: "agent-c", load_lease_ms: long });
    try {
      await eventually(async () => (await listed(c, "one-slot")).length === 1, 5000, "C knows the worker");
      expect((await chat(c, "one-slot", "abcdefghijklmnopqrst")).status).toBe(200);
      await stop(c, "SIGKILL");
      expect((await chat(b, "one-slot", "x")).status).toBe(503);
      c = await startOne({ agent_id: "agent-c", load_lease_ms: long });
      expect(await loadKeys()).toEqual([]);
      const after = await chat(b, "one-slot", "ok");
      expect([after.status, await after.text()]).toEqual([200, "ok"]);
    } finally {
      await stop(c);
    }
  }, 30_000);
});

describe.skipIf(!redisServerProgram())("an Agent whose Redis goes away", () => {
  let redis: PrivateRedis;
  let agent: AgentProc;
  const worker = countingWorker(10, 100);

  beforeAll(async () => {
    redis = await privateRedis(redisServerProgram()!, { persist: true });
    agent = await startAgent({ redisUrl: redis.url, keyPrefix: "rock:", agent: { load_lease_ms: 9000 } });
    expect(await (await post(agent, "worker/register", { name: "w", endpoint: worker.endpoint, slots: "2" })).text()).toBe("Success");
  });
  afterAll(async () => {
    await stop(agent);
    worker.stop();
    await redis?.close();
  });

  test("chats get the kernel's 503 'store unavailable' within the bound; a slot given back meanwhile is written once Redis is back", async () => {
    const streaming = await chat(agent, "w", "hi");
    expect(streaming.status).toBe(200);
    const client = redis.client();
    expect(await client.keys("rock:agent:load:*")).toHaveLength(1);
    await redis.kill();

    for (const request of [() => chat(agent, "w", "hi"), () => post(agent, "worker/schedule", { name: "w", history_id: "1", user_id: "u" })]) {
      const started = performance.now();
      const response = await request();
      expect(performance.now() - started).toBeLessThan(1500 + 1000); // store.timeout_ms, and room for a loaded machine
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { message: expect.stringMatching(/^store unavailable: /), type: "server_error" } });
    }
    // The stream that held a slot ends while Redis is away: its release cannot be written yet.
    expect(await streaming.text()).toBe("x".repeat(10));

    // Redis comes back with the entry as it was (one slot held) and its TTL: the heartbeat (every 3 s) writes the
    // release well before that TTL could drop it.
    await redis.start();
    const back = redis.client();
    const [key] = await back.keys("rock:agent:load:*");
    expect(Object.values(JSON.parse((await back.get(key))!))).toEqual([{ n: 1, until: expect.any(Number) }]);
    const ttl = await back.pttl(key);
    const restarted = Date.now();
    await eventually(async () => (await back.exists(key)) === 0, ttl, "the released slot written by the heartbeat");
    expect(Date.now() - restarted).toBeLessThan(ttl - 500);
    const after = await chat(agent, "w", "hi");
    expect([after.status, await after.text()]).toEqual([200, "x".repeat(10)]);
    expect(seriesValue(await (await fetch(`${agent.url}/metrics`)).text(), "rock_agent_dispatch_failures_total", { name: "w", reason: "store_unavailable" })).toBe(1);
  }, 30_000);
});
