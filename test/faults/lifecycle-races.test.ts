/**
 * The admin's lifecycle under concurrency, on the docker and the local deployment, with the reconciler and the idle
 * scanner running every 50 ms: many start_async from several clients, each followed at once by get_status and execute
 * (once "Sandbox … not found": a reconcile pass acted on what it had read before the start); retried starts (the same
 * sandbox id, the same Idempotency-Key) from several clients at once; stop, delete and restart of a sandbox mid-start,
 * already stopping, or lost with its instance. Never a 5xx or an internal failure, never a second instance; afterwards
 * the instances, records and store keys are counted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import Redis from "ioredis";
import type { Deployment } from "../../core/kinds/deployment.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { bootAdminKernel, newSandboxId, removeOurContainers, type RunningAdmin } from "../sdk/support.ts";
import { available, dockerSocket, redisUrl, sandboxImage } from "../support/env.ts";

const api = "/apis/envs/sandbox/v1";
const socket = dockerSocket();
const redis = redisUrl();

interface Answer {
  status: number;
  body: any;
}

for (const kind of ["docker", "local"] as const) {
  const needs = available("redis", redis) && (kind === "local" || available("docker", socket));
  describe.skipIf(!needs)(`admin lifecycle under concurrency (${kind} deployment, Redis store)`, () => {
    const prefix = `races-${process.pid}-${kind}:`;
    let admin: RunningAdmin;
    let engine: Docker;
    let client: Redis;
    let deployment: Deployment;
    const image = kind === "docker" ? sandboxImage() : "local";
    const startBody = (sandbox_id?: string) => ({ image, sandbox_id, memory: "64m", cpus: 0.1, pull: "never" });

    const call = async (method: "GET" | "POST", path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
      const response = await fetch(admin.baseUrl + api + path, {
        method,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      try {
        return { status: response.status, body: JSON.parse(text) };
      } catch {
        return { status: response.status, body: text };
      }
    };
    const status = (id: string, all = false) => call("GET", `/get_status?sandbox_id=${id}${all ? "&include_all_states=true" : ""}`);
    /** Running instances of these sandboxes, as the runtime lists them. */
    const instancesOf = async (ids: string[]) => (await deployment.list()).filter((i) => ids.includes(i.sandbox_id));
    // Sandbox state only: the admin's maintenance lease stays while the admin runs.
    const storeKeys = async () => (await client.keys(`${prefix}*`)).filter((key) => /:sandbox:(alive|timeout):/.test(key)).sort();
    /** Neither HTTP 5xx nor ROCK's internal failure (code 5000): only Success, or Failed naming the client's mistake. */
    const clean = (answer: Answer) => answer.status === 200 && (answer.body.status === "Success" || answer.body.result?.code === 4000);
    async function untilAlive(id: string, ms = 30_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const answer = await status(id);
        expect(answer.body).toMatchObject({ status: "Success" });
        if (answer.body.result.is_alive) return answer.body.result;
        if (Date.now() > deadline) throw new Error(`${id} not alive within ${ms} ms: ${JSON.stringify(answer.body.result.state)}`);
        await Bun.sleep(20);
      }
    }

    beforeAll(async () => {
      const binary = await ensureRockletBinary();
      const deploymentYaml =
        kind === "docker"
          ? `docker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n  local-operator:\n    deployment: docker\n`
          : `plugins:\n  local:\n    stop_grace_ms: 200\n  local-operator: {}\n`;
      admin = await bootAdminKernel(
        `store:\n  type: redis\n  url: ${redis}\n  key_prefix: "${prefix}"\n${deploymentYaml}` +
          `  admin:\n    port: 0\n    reconcile_interval_ms: 50\n    idle_scan_interval_ms: 50\n`,
      );
      deployment = admin.kernel.instance<{ deployment: Deployment }>(kind)!.deployment;
      client = new Redis(redis!);
      if (kind === "docker") engine = new Docker({ socketPath: socket });
    }, 60_000);

    afterAll(async () => {
      await admin?.close();
      if (engine) await removeOurContainers(engine);
      if (client) {
        const keys = await client.keys(`${prefix}*`);
        if (keys.length) await client.del(...keys);
        client.disconnect();
      }
    }, 60_000);

    test("12 start_async from 4 clients at once, each followed at once by get_status and execute: never 'not found'; all run; a user's stop is recorded as a stop", async () => {
      const ids = Array.from({ length: 12 }, () => newSandboxId("race"));
      const unexpected: unknown[] = [];
      await Promise.all(
        [0, 1, 2, 3].map(async (c) => {
          await Promise.all(
            ids.slice(c * 3, c * 3 + 3).map(async (id) => {
              const started = await call("POST", "/start_async", startBody(id));
              expect(started).toMatchObject({ status: 200, body: { status: "Success", result: { sandbox_id: id } } });
              const [got, executed] = await Promise.all([status(id), call("POST", "/execute", { sandbox_id: id, command: "true", shell: true })]);
              if (got.body.status !== "Success" || !["pending", "running"].includes(got.body.result.state)) unexpected.push(["get_status", id, got.body]);
              if (executed.body.status !== "Success" && !executed.body.error?.startsWith(`Sandbox ${id} is still starting`)) unexpected.push(["execute", id, executed.body]);
              await untilAlive(id);
            }),
          );
        }),
      );
      expect(unexpected).toEqual([]);
      // Passes of the reconciler and the idle scanner ran during all of it, and more now: nothing is undone.
      await Bun.sleep(500);
      for (const id of ids) expect((await status(id)).body.result).toMatchObject({ state: "running", is_alive: true });
      expect((await instancesOf(ids)).filter((i) => i.state === "running").length).toBe(ids.length);
      expect(await storeKeys()).toEqual(ids.flatMap((id) => [`${prefix}sandbox:alive:${id}`, `${prefix}sandbox:timeout:${id}`]).sort());

      const stops = await Promise.all(ids.map((id) => call("POST", "/stop", { sandbox_id: id })));
      expect(stops.every((s) => s.body.status === "Success")).toBe(true);
      for (const id of ids) {
        const record = (await status(id, true)).body.result;
        expect(record.state).toBe("stopped");
        expect(record.state_history.map((h: any) => h.event)).toEqual(["alive", "stop"]);
        expect(record.status.docker_run.status).toBe("success");
      }
      expect(await instancesOf(ids)).toEqual([]);
      expect(await storeKeys()).toEqual([]);
    }, 120_000);

    test("retries of one start from several clients at once (the same sandbox id; the same Idempotency-Key) give one sandbox each; the key with another request is 422", async () => {
      const id = newSandboxId("retry");
      const byId = await Promise.all(Array.from({ length: 6 }, (_, i) => call("POST", i % 2 ? "/start" : "/start_async", startBody(id))));
      for (const answer of byId) expect(answer).toMatchObject({ status: 200, body: { status: "Success", result: { sandbox_id: id } } });

      const key = `key-${id}`;
      const byKey = await Promise.all(Array.from({ length: 6 }, (_, i) => call("POST", i % 2 ? "/start" : "/start_async", startBody(), { "Idempotency-Key": key })));
      const keyed = byKey[0].body.result?.sandbox_id as string;
      for (const answer of byKey) expect(answer).toMatchObject({ status: 200, body: { status: "Success", result: { sandbox_id: keyed } } });
      expect(keyed).not.toBe(id);

      const other = await call("POST", "/start_async", { ...startBody(), memory: "128m" }, { "Idempotency-Key": key });
      expect(other.status).toBe(422);
      expect(other.body).toMatchObject({ status: "Failed", result: { code: 4000 } });
      expect(other.body.error).toBe(`Idempotency-Key '${key}' was used for a different request (memory 67108864, this request has 134217728); use a new key for a new sandbox`);

      await untilAlive(id);
      await untilAlive(keyed);
      expect((await instancesOf([id, keyed])).map((i) => [i.sandbox_id, i.state]).sort()).toEqual([id, keyed].sort().map((s) => [s, "running"]));
      for (const s of [id, keyed]) expect((await call("POST", "/stop", { sandbox_id: s })).body.status).toBe("Success");
      expect(await instancesOf([id, keyed])).toEqual([]);
      expect(await storeKeys()).toEqual([]);
    }, 120_000);

    test("the store loses its keys during a start and while running: the start ends running, the list still shows both, the keys come back", async () => {
      const [starting, runs] = [newSandboxId("wiped-start"), newSandboxId("wiped-run")];
      expect((await call("POST", "/start", startBody(runs))).body.status).toBe("Success");
      expect((await call("POST", "/start_async", startBody(starting))).body.status).toBe("Success");
      // What Redis restarted without its data leaves: no key of either.
      await client.del(...(await client.keys(`${prefix}*`)));
      const listed = (await call("GET", "/sandboxes")).body.result;
      expect(listed.items.map((i: any) => i.sandbox_id).sort()).toEqual([starting, runs].sort());
      await untilAlive(starting);
      for (const id of [starting, runs]) expect((await call("POST", "/execute", { sandbox_id: id, command: "echo kept", shell: true })).body.result.stdout).toBe("kept\n");
      expect(await storeKeys()).toEqual([starting, runs].flatMap((id) => [`${prefix}sandbox:alive:${id}`, `${prefix}sandbox:timeout:${id}`]).sort());
      for (const id of [starting, runs]) expect((await call("POST", "/stop", { sandbox_id: id })).body.status).toBe("Success");
      expect(await instancesOf([starting, runs])).toEqual([]);
      expect(await storeKeys()).toEqual([]);
    }, 60_000);

    test("stop, delete and restart at once of a sandbox mid-start: only Success or Failed 4000; at most one instance; it ends stopped or running", async () => {
      const ids: string[] = [];
      for (const delayMs of [0, 5, 20, 60]) {
        const id = newSandboxId("midstart");
        ids.push(id);
        const started = call("POST", "/start_async", startBody(id));
        await Bun.sleep(delayMs);
        const answers = await Promise.all([call("POST", "/stop", { sandbox_id: id }), call("POST", "/delete", { sandbox_id: id }), call("POST", "/restart", { sandbox_id: id }), started]);
        expect(answers.filter((a) => !clean(a))).toEqual([]);
        expect((await instancesOf([id])).length).toBeLessThanOrEqual(1);
      }
      // Whatever won, it settles: a stopped (or deleted) sandbox has no instance, a running one exactly one.
      await Bun.sleep(1000);
      for (const id of ids) {
        const record = (await status(id, true)).body;
        const running = (await instancesOf([id])).filter((i) => i.state === "running").length;
        if (record.status === "Failed") {
          // The stop came before the start's record: "not found", and the start went on.
          expect(record.error).toBe(`Sandbox ${id} not found`);
          continue;
        }
        expect(["pending", "running", "stopped", "deleted"]).toContain(record.result.state);
        if (record.result.state === "running") expect(running).toBe(1);
        if (["stopped", "deleted"].includes(record.result.state)) expect(await instancesOf([id])).toEqual([]);
      }
      for (const id of ids) await call("POST", "/stop", { sandbox_id: id });
      expect(await instancesOf(ids)).toEqual([]);
      expect(await storeKeys()).toEqual([]);
    }, 120_000);

    test("a sandbox already stopping: three stops and a delete at once are Success or Failed 4000, and leave no instance", async () => {
      const id = newSandboxId("stopping");
      expect((await call("POST", "/start", startBody(id))).body.status).toBe("Success");
      const answers = await Promise.all([...[1, 2, 3].map(() => call("POST", "/stop", { sandbox_id: id })), call("POST", "/delete", { sandbox_id: id })]);
      expect(answers.filter((a) => !clean(a))).toEqual([]);
      expect(answers.slice(0, 3).every((a) => a.body.status === "Success")).toBe(true);
      expect(["stopped", "deleted"]).toContain((await status(id, true)).body.result.state);
      expect(await instancesOf([id])).toEqual([]);
      expect(await storeKeys()).toEqual([]);
    }, 60_000);

    test("a sandbox lost with its instance: two restarts at once make one new instance (the record says it failed first); a stop of a lost one succeeds", async () => {
      const id = newSandboxId("lost");
      expect((await call("POST", "/start", startBody(id))).body.status).toBe("Success");
      await deployment.stop(id);
      const restarts = await Promise.all([call("POST", "/restart", { sandbox_id: id }), call("POST", "/restart", { sandbox_id: id }), status(id)]);
      expect(restarts.filter((a) => !clean(a))).toEqual([]);
      expect(restarts.slice(0, 2).filter((a) => a.body.status === "Success").length).toBe(1);
      await untilAlive(id);
      expect((await instancesOf([id])).length).toBe(1);
      const history = (await status(id)).body.result.state_history.map((h: any) => h.event);
      expect(history.slice(-3)).toEqual(["fail", "restart", "alive"]);
      expect((await call("POST", "/execute", { sandbox_id: id, command: "echo again", shell: true })).body.result.stdout).toBe("again\n");

      await deployment.stop(id);
      expect((await call("POST", "/stop", { sandbox_id: id })).body.status).toBe("Success");
      expect((await status(id, true)).body.result.state).toBe("stopped");
      expect((await call("POST", "/delete", { sandbox_id: id })).body.status).toBe("Success");
      expect(await instancesOf([id])).toEqual([]);
      expect(await storeKeys()).toEqual([]);
    }, 60_000);
  });
}
