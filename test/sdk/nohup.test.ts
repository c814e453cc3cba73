/**
 * `arun` in nohup mode (local deployment): run many times with commands that end at once (ROCK's `…& echo …;disown`
 * failed with "bash: disown: current: no such job" when the command ended first), never an error and no job notice in
 * the session's later output; the real exit status; the command outlives the session; the bounded wait, the output
 * limit, ignore_output and the output file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RockClient, Sandbox } from "../../plugins/clients/sdk/index.ts";
import { bootAdminKernel, localAdminYaml, type RunningAdmin } from "./support.ts";

let admin: RunningAdmin;
let sandbox: Sandbox;

beforeAll(async () => {
  admin = await bootAdminKernel(localAdminYaml());
  sandbox = new Sandbox({ client: new RockClient({ baseUrl: admin.baseUrl }), image: "local", memory: "1g" });
  await sandbox.start();
}, 60_000);
afterAll(async () => {
  await sandbox?.stop().catch(() => undefined);
  await admin?.close();
});

describe("SDK arun, nohup mode", () => {
  test("80 quick commands in one session, and 8 at once in sessions of their own: each its output and status, no job notice anywhere", async () => {
    await sandbox.createSession("jobs");
    for (let i = 0; i < 80; i++) {
      const observed = await sandbox.arun(`echo run-${i}`, { mode: "nohup", session: "jobs", waitInterval: 1 });
      expect(observed).toMatchObject({ output: `run-${i}`, exit_code: 0, failure_reason: "" });
    }
    // Nothing the background jobs did shows in the session afterwards ("[1] 123", "[1]+ Done …", disown's complaint).
    expect(await sandbox.arun("echo after", { session: "jobs" })).toMatchObject({ output: "after", exit_code: 0 });
    const concurrent = await Promise.all(Array.from({ length: 8 }, (_, i) => sandbox.arun(`echo at-once-${i}; exit ${i}`, { mode: "nohup", waitInterval: 1 })));
    expect(concurrent.map((o) => [o.output, o.exit_code])).toEqual(Array.from({ length: 8 }, (_, i) => [`at-once-${i}`, i]));
  }, 120_000);

  test("a command that takes a while is waited for; one that outlasts the wait keeps running past the session's end", async () => {
    const slow = await sandbox.arun("sleep 1.5; echo slept; echo to-stderr >&2", { mode: "nohup", waitInterval: 0.5 });
    expect(slow).toMatchObject({ output: "slept\nto-stderr", exit_code: 0 });

    const file = `/tmp/nohup-long-${process.pid}.out`;
    const long = await sandbox.arun("sleep 20; echo late", { mode: "nohup", waitTimeout: 1, waitInterval: 0.5, outputFile: file });
    expect(long.exit_code).toBe(1);
    expect(long.failure_reason).toMatch(new RegExp(`^the command is still running after 1 s \\(pid (\\d+)\\); its output goes to ${file}$`));
    const pid = /pid (\d+)/.exec(long.failure_reason)![1];
    // Its temporary session was closed (SIGHUP to the session's shell and group): the command runs on.
    expect((await sandbox.execute(`kill -0 ${pid} && echo alive`)).stdout).toBe("alive\n");
    await sandbox.execute(`kill ${pid}`);
  }, 60_000);

  test("output limit, ignore_output and the output file", async () => {
    const limited = await sandbox.arun("printf 0123456789", { mode: "nohup", waitInterval: 1, responseLimitedBytes: 4 });
    expect(limited).toMatchObject({ output: "0123", exit_code: 0 });
    const file = `/tmp/nohup-kept-${process.pid}.out`;
    const ignored = await sandbox.arun("printf 0123456789", { mode: "nohup", waitInterval: 1, ignoreOutput: true, outputFile: file });
    expect(ignored).toMatchObject({ output: `the output (10 bytes) is in ${file}`, exit_code: 0 });
    expect(await sandbox.readFile(file)).toBe("0123456789");
    // Quotes and shell syntax in the command reach bash as written.
    expect((await sandbox.arun(`x='a b'; [ "$x" = 'a b' ] && echo "it's $x"`, { mode: "nohup", waitInterval: 1 })).output).toBe("it's a b");
  }, 60_000);
});
