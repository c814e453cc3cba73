/** `Sandbox.start`'s bounded wait against a scripted admin: time-outs, starts the admin gave up on, failed phases. */
import { afterEach, describe, expect, test } from "bun:test";
import { Sandbox, SandboxStartError, type StartProgress } from "../../plugins/clients/sdk/index.ts";

interface Script {
  status(call: number, includeAll: boolean): { status: "Success" | "Failed"; result: unknown; error?: string };
}

let server: ReturnType<typeof Bun.serve> | undefined;
const stops: string[] = [];

afterEach(() => {
  server?.stop(true);
  stops.length = 0;
});

/** A fake admin: start_async answers pending, get_status follows `script`, stop is recorded. */
function fakeAdmin(script: Script): string {
  let calls = 0;
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const envelope = (status: "Success" | "Failed", result: unknown, error: string | null = null) =>
        Response.json({ status, message: status === "Failed" ? "get sandbox status failed" : null, error, result });
      if (url.pathname.endsWith("/start_async")) return envelope("Success", { code: 2000, sandbox_id: "fake-1", host_name: "h", host_ip: "127.0.0.1", cpus: 1, memory: "1.00g", disk: null });
      if (url.pathname.endsWith("/stop")) {
        stops.push(((await req.json()) as { sandbox_id: string }).sandbox_id);
        return envelope("Success", "fake-1 stopped");
      }
      const answer = script.status(++calls, url.searchParams.get("include_all_states") === "true");
      return envelope(answer.status, answer.result, answer.error ?? null);
    },
  });
  return `http://127.0.0.1:${server.port}`;
}

const status = (state: string, is_alive = false, phases: Record<string, { status: string; message: string }> = {}) => ({
  sandbox_id: "fake-1",
  state,
  is_alive,
  status: phases,
  state_history: [],
});

describe("Sandbox.start waits for the sandbox, bounded, with clear errors", () => {
  test("progress reports each poll and the state changes; returns once alive", async () => {
    const baseUrl = fakeAdmin({ status: (n) => ({ status: "Success", result: n < 3 ? status("pending") : status("running", true) }) });
    const progress: StartProgress[] = [];
    const alive = await new Sandbox({ baseUrl, image: "x" }).start({ onProgress: (p) => progress.push(p), intervalMs: 5 });
    expect(alive.is_alive).toBe(true);
    expect(progress.map((p) => [p.state, p.changed])).toEqual([["pending", true], ["pending", false], ["running", true]]);
    expect(stops).toEqual([]);
  });

  test("still pending when the bound runs out: SandboxStartError with the last state, and the sandbox is stopped", async () => {
    const baseUrl = fakeAdmin({ status: () => ({ status: "Success", result: status("pending") }) });
    const started = new Sandbox({ baseUrl, image: "x", startupTimeoutMs: 200 }).start({ intervalMs: 10 });
    await expect(started).rejects.toBeInstanceOf(SandboxStartError);
    await expect(started).rejects.toThrow("sandbox fake-1 did not become alive within 0.2 s: its state is still pending; it has been stopped");
    expect(stops).toContain("fake-1");
  });

  test("the admin gave up on the start (active view says not found): the error says it is stopped", async () => {
    const baseUrl = fakeAdmin({
      status: (_n, includeAll) => (includeAll ? { status: "Success", result: status("stopped") } : { status: "Failed", result: { code: 4000 }, error: "Sandbox fake-1 not found" }),
    });
    const started = new Sandbox({ baseUrl, image: "x" }).start();
    await expect(started).rejects.toThrow("sandbox fake-1 is stopped: the admin gave up on the start");
    const error = await started.catch((e) => e);
    expect(error).toMatchObject({ sandboxId: "fake-1", lastState: "stopped", code: 5000 });
  });

  test("a failed phase ends the wait at once with the phase's message", async () => {
    const baseUrl = fakeAdmin({ status: () => ({ status: "Success", result: status("pending", false, { image_pull: { status: "failed", message: "no such image" } }) }) });
    await expect(new Sandbox({ baseUrl, image: "x" }).start()).rejects.toThrow("sandbox fake-1 failed to start: image_pull failed: no such image; it has been stopped");
    expect(stops).toContain("fake-1");
  });
});
