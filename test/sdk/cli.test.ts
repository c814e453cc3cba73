/** `bun core/cli.ts sandbox …` as a separate process against an admin running in this one (local deployment). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../support/project.ts";
import { bootAdminKernel, localAdminYaml, newSandboxId, type RunningAdmin } from "./support.ts";

const TOKEN = "cli-test-token";
let admin: RunningAdmin;

beforeAll(async () => {
  admin = await bootAdminKernel(localAdminYaml({ token: TOKEN }));
});
afterAll(async () => {
  await admin?.close();
});

async function rock(args: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn([process.execPath, join(repoRoot, "core/cli.ts"), "sandbox", ...args], {
    env: { ...process.env, ROCK_BASE_URL: admin.baseUrl, ROCK_API_TOKEN: TOKEN, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, code };
}

describe("rock sandbox (CLI) against a running admin", () => {
  test("start (progress on stderr) → list → status → exec (its exit code) → stop", async () => {
    const id = newSandboxId("cli");
    const started = await rock(["start", "--image", "python:3.11", "--memory", "1g", "--cpus", "1", "--sandbox-id", id]);
    expect(started).toMatchObject({ code: 0, stdout: `${id}\n` });
    expect(started.stderr).toContain(`starting a sandbox from python:3.11 at ${admin.baseUrl}`);
    expect(started.stderr).toMatch(new RegExp(`sandbox ${id}: alive after \\d+\\.\\d s`));

    const listed = await rock(["list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")[0]).toStartWith("SANDBOX ID");
    expect(listed.stdout).toContain(id);
    const listedJson = await rock(["list", "--json", "--filter", `sandbox_id=${id}`]);
    expect(JSON.parse(listedJson.stdout).map((s: { sandbox_id: string }) => s.sandbox_id)).toEqual([id]);

    const status = await rock(["status", id, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ sandbox_id: id, state: "running", is_alive: true });
    expect((await rock(["status", id])).stdout).toMatch(/^state +running$/m);

    const ok = await rock(["exec", id, "--", "echo hi; echo warn >&2"]);
    expect(ok).toEqual({ code: 0, stdout: "hi\n", stderr: "warn\n" });
    expect((await rock(["exec", id, "--", "exit 7"])).code).toBe(7);
    expect(await rock(["exec", id, "--cwd", "/tmp", "--env", "A=1", "--", "printf", "%s:%s", "$A", "x y"])).toMatchObject({ code: 0, stdout: "$A:x y" });
    expect((await rock(["exec", id, "--env", "A=1", "--cwd", "/tmp", "--", "echo $A; pwd"])).stdout).toBe("1\n/tmp\n");
    const timedOut = await rock(["exec", id, "--timeout", "0.3", "--", "sleep 5"]);
    expect(timedOut.code).toBe(124);
    expect(timedOut.stderr).toContain("the command did not finish");
    const asJson = await rock(["exec", id, "--json", "--", "echo j; exit 3"]);
    expect(asJson.code).toBe(3);
    expect(JSON.parse(asJson.stdout)).toEqual({ stdout: "j\n", stderr: "", exit_code: 3 });

    expect(await rock(["stop", id])).toMatchObject({ code: 0, stdout: `${id} stopped\n` });
    expect((await rock(["status", id, "--all-states", "--json"])).stdout).toContain('"state": "stopped"');
  }, 60_000);

  test("errors: exit 1 with the admin's reason, exit 2 with usage; --url and --token override the environment", async () => {
    const ghost = await rock(["exec", "ghost", "--", "ls"]);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain("Sandbox ghost not found (BadRequestRockError, code 4000)");

    const noToken = await rock(["list", "--token", "wrong"]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("AuthenticationRockError");
    const elsewhere = await rock(["list", "--url", "http://127.0.0.1:1"]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain("the admin at http://127.0.0.1:1 is not reachable");

    // The placement reaches the admin, which runs every sandbox on one host here.
    const placed = await rock(["start", "--image", "x", "--placement", "zone=b"]);
    expect(placed.code).toBe(1);
    expect(placed.stderr).toContain("runs every sandbox on one host and takes no placement (BadRequestRockError, code 4000)");

    for (const args of [[], ["frobnicate"], ["start"], ["status"], ["exec", "only-an-id"], ["list", "--bogus"], ["start", "--image", "x", "--cpus", "many"], ["start", "--image", "x", "--placement", "zone"]]) {
      const bad = await rock(args);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("rock sandbox <subcommand>");
    }
    const help = await rock(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("exec   SANDBOX_ID");
  }, 60_000);
});

describe("rock sandbox (CLI) and the admin's token", () => {
  test("from ROCK_API_TOKEN or --token-file, never needed on the command line; a 401 names the settings", async () => {
    const file = join(admin.project.root, `token-${process.pid}`);
    await Bun.write(file, `${TOKEN}\n`);
    try {
      expect((await rock(["list", "--token-file", file], { ROCK_API_TOKEN: "" })).code).toBe(0);
      const none = await rock(["list"], { ROCK_API_TOKEN: "" });
      expect(none.code).toBe(1);
      expect(none.stderr).toContain("AuthenticationRockError");
      expect(none.stderr).toContain("no token was sent (the token option, default $ROCK_API_TOKEN)");
      expect(none.stderr).toContain("server.token / ROCK_API_TOKEN");
      const wrong = await rock(["list"], { ROCK_API_TOKEN: "wrong-token-123" });
      expect(wrong.stderr).toContain("the token sent is not the admin's");
      expect(wrong.stderr).not.toContain("wrong-token-123");
      expect((await rock(["list", "--auth-token", TOKEN], { ROCK_API_TOKEN: "" })).code).toBe(0);
      const missing = await rock(["list", "--token-file", `${file}-missing`]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`--token-file ${file}-missing: no such file`);
    } finally {
      await Bun.file(file).delete();
    }
  }, 60_000);
});
