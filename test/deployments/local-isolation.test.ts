/**
 * Local sandboxes under bubblewrap, used as a user would: the server is a real `bun core/cli.ts` process with a secret
 * in its environment, and sandboxes are started and driven through its admin API with the SDK.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "../../plugins/clients/sdk/index.ts";
import { available, bubblewrap, dockerSocket } from "../support/env.ts";
import { freePort, repoRoot, tempProject, waitForHttp, type TempProject } from "../support/project.ts";
import { bwrapCommand, bwrapFeatures, pathKind } from "../../plugins/deployments/local/isolation.ts";
import { bootDeployment, ensureRockletBinary } from "./support.ts";

const SECRET_NAME = "ROCK_TEST_SERVER_SECRET";

interface ServerProcess {
  baseUrl: string;
  project: TempProject;
  /** Everything the server logged so far. */
  log(): string;
  stop(): Promise<void>;
}

/** `bun core/cli.ts` (what `bun run rock` runs) with the admin on the local deployment, as its own process. */
async function startServer(env: Record<string, string> = {}, localYaml = ""): Promise<ServerProcess> {
  await ensureRockletBinary();
  const project = tempProject("rock-isolation-");
  const port = freePort();
  const config = project.config(`plugins:\n  local:\n    stop_grace_ms: 200\n${localYaml}  local-operator: {}\n  admin:\n    port: ${port}\n`);
  const childEnv: Record<string, string | undefined> = { ...process.env, ROCK_CONFIG: config, ROCK_DATA_DIR: join(project.root, "data"), ...env };
  for (const name of ["ROCK_REDIS_URL", "ROCK_API_TOKEN", "DOCKER_HOST"]) delete childEnv[name];
  const child = Bun.spawn([process.execPath, join(repoRoot, "core/cli.ts")], { cwd: repoRoot, env: childEnv, stdout: "pipe", stderr: "pipe" });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += new TextDecoder().decode(chunk);
  };
  void collect(child.stdout);
  void collect(child.stderr);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${baseUrl}/health`);
  } catch (error) {
    child.kill("SIGKILL");
    project.remove();
    throw new Error(`the server did not start: ${error}\n${output}`);
  }
  return {
    baseUrl,
    project,
    log: () => output,
    stop: async () => {
      child.kill("SIGTERM");
      await child.exited;
      project.remove();
    },
  };
}

let counter = 0;
const newSandbox = (server: ServerProcess) =>
  new Sandbox({ baseUrl: server.baseUrl, image: "local", memory: "1g", cpus: 1, sandboxId: `iso-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 7)}` });

async function run(sandbox: Sandbox, command: string): Promise<{ stdout: string; stderr: string; exit_code: number }> {
  return (await sandbox.execute(command, { timeout: 30 })) as { stdout: string; stderr: string; exit_code: number };
}

describe.skipIf(!available("bubblewrap", bubblewrap()))("local sandbox isolation (bubblewrap)", () => {
  const secret = `secret-${crypto.randomUUID()}`;
  let server: ServerProcess;
  let sandbox: Sandbox;
  let workDir: string;

  beforeAll(async () => {
    server = await startServer({ [SECRET_NAME]: secret });
    sandbox = newSandbox(server);
    const status = await sandbox.start();
    expect(status.isolation).toBe("bubblewrap");
    workDir = (await run(sandbox, "pwd")).stdout.trim();
  });
  afterAll(async () => {
    await sandbox?.stop().catch(() => undefined);
    await server?.stop();
  });

  test("get_status says isolation: bubblewrap", async () => {
    expect((await sandbox.status()).isolation).toBe("bubblewrap");
    expect(server.log()).not.toContain("NOT ISOLATED");
  });

  test("the sandbox cannot read the server's environment: not in its own, not through /proc", async () => {
    const seen = await run(sandbox, "env; tr '\\0' '\\n' </proc/1/environ; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' <\"$f\"; done; echo done");
    expect(seen.stdout).toEndWith("done\n");
    expect(seen.stdout).toContain(`HOME=${workDir}`);
    expect(seen.stdout + seen.stderr).not.toContain(secret);
    expect(seen.stdout).not.toContain(SECRET_NAME);
    // Nor the rocklet's token: it came in a file the rocklet deleted.
    expect(seen.stdout).not.toContain("ROCKLET_TOKEN");
    expect(existsSync(join(workDir, ".rocklet-token"))).toBe(false);
  });

  test("writes outside its work dir fail; its work dir and its private /tmp work", async () => {
    const marker = `iso-marker-${process.pid}-${Date.now()}`;
    const outside = [join(repoRoot, marker), join(homedir(), marker), join(server.project.root, "data", marker), `/etc/${marker}`];
    const hostTmp = join(tmpdir(), marker);
    try {
      for (const path of outside) {
        const wrote = await run(sandbox, `echo x > '${path}'`);
        expect(wrote.exit_code, path).not.toBe(0);
        expect(existsSync(path), path).toBe(false);
      }
      expect(await run(sandbox, `echo private > '${hostTmp}' && cat '${hostTmp}'`)).toMatchObject({ exit_code: 0, stdout: "private\n" });
      expect(existsSync(hostTmp)).toBe(false);
    } finally {
      for (const path of [...outside, hostTmp]) rmSync(path, { force: true });
    }
    expect(await run(sandbox, "echo mine > own.txt && cat own.txt")).toMatchObject({ exit_code: 0, stdout: "mine\n" });
    expect(await Bun.file(join(workDir, "own.txt")).text()).toBe("mine\n");
  });

  test("the server's files are hidden: project, config, data dir (records, other plugins), home", async () => {
    const data = join(server.project.root, "data");
    const dataFiles = readdirSync(data, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .filter((path) => !path.startsWith(workDir + "/"));
    expect(dataFiles.length).toBeGreaterThan(0);
    const serverFiles = [join(repoRoot, "package.json"), join(repoRoot, "conf", "rock.yml"), join(server.project.root, "conf", "rock.yml"), ...dataFiles];
    for (const path of serverFiles) {
      expect(existsSync(path), path).toBe(true);
      expect((await run(sandbox, `test -e '${path}'; echo $?`)).stdout, path).toBe("1\n");
    }
    expect(await run(sandbox, `ls -A '${homedir()}'`)).toMatchObject({ exit_code: 0, stdout: "" });
  });

  test.skipIf(process.getuid?.() !== 0)("a root server's sandbox runs as nobody: root-owned host files stay closed, its files are nobody's", async () => {
    expect((await run(sandbox, "id -u; id -g; id -G")).stdout).toBe("65534\n65534\n65534\n");
    const shadow = await run(sandbox, "cat /etc/shadow");
    expect(shadow.exit_code).not.toBe(0);
    expect(shadow.stderr).toContain("Permission denied");
    await run(sandbox, "echo x > owned.txt");
    expect(statSync(join(workDir, "owned.txt")).uid).toBe(65534);
    expect((await run(sandbox, "grep -E '^Cap(Eff|Bnd)' /proc/self/status")).stdout).toBe("CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n");
  });

  test("no Docker socket: neither the test engine's nor /var/run/docker.sock", async () => {
    const sockets = ["/var/run/docker.sock", "/run/docker.sock"];
    if (available("docker", dockerSocket())) {
      expect(existsSync(dockerSocket()!)).toBe(true);
      sockets.push(dockerSocket()!);
    }
    for (const socket of sockets) expect((await run(sandbox, `test -e '${socket}'; echo $?`)).stdout, socket).toBe("1\n");
  });

  test("another sandbox's files and processes are out of sight; ps shows only its own tree", async () => {
    const other = newSandbox(server);
    await other.start();
    try {
      const otherDir = (await run(other, "echo their-content > theirs.txt; sleep 777 >/dev/null 2>&1 & pwd")).stdout.trim();
      expect(existsSync(join(otherDir, "theirs.txt"))).toBe(true);
      const look = await run(sandbox, `cat '${otherDir}/theirs.txt'; ls '${otherDir}'`);
      expect(look.stdout).toBe("");
      expect(look.stderr).toContain("No such file or directory");
      const ps = await run(sandbox, "ps -eo pid=,args=");
      expect(ps.exit_code).toBe(0);
      expect(ps.stdout).not.toContain("sleep 777");
      expect(ps.stdout).not.toContain("core/cli.ts");
      const pids = ps.stdout.trim().split("\n").map((line) => Number(line.trim().split(/\s+/)[0]));
      expect(pids).toContain(1);
      expect(pids.length).toBeLessThan(10);
    } finally {
      await other.stop();
    }
  });
});

describe.skipIf(!available("bubblewrap", bubblewrap()) || process.getuid?.() !== 0)("a data dir the sandbox uid cannot reach", () => {
  let server: ServerProcess;
  let parent: string;

  beforeAll(async () => {
    // Outside everything a sandbox has hidden or private, and closed to others (mkdtemp makes it 0700).
    parent = mkdtempSync(join(existsSync("/srv") ? "/srv" : "/opt", "rock-private-"));
    server = await startServer({ ROCK_DATA_DIR: join(parent, "data") });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(parent, { recursive: true, force: true });
  });

  test("sandboxes stay isolated, as root without capabilities, and the log says why", async () => {
    expect(server.log()).toContain("local sandboxes run as root (without capabilities, in their own namespaces): running them as uid 65534 failed:");
    const sandbox = newSandbox(server);
    expect((await sandbox.start()).isolation).toBe("bubblewrap");
    try {
      expect((await run(sandbox, "id -u; grep -E '^CapEff' /proc/self/status")).stdout).toBe("0\nCapEff:\t0000000000000000\n");
    } finally {
      await sandbox.stop();
    }
  });
});

describe.skipIf(!available("bubblewrap", bubblewrap()))("hide: more host paths", () => {
  let server: ServerProcess;
  let outside: string;

  beforeAll(async () => {
    // Somewhere nothing hides by default (not the project, /tmp, /run or the home directory).
    outside = mkdtempSync(join(existsSync("/srv") ? "/srv" : "/opt", "rock-hide-"));
    chmodSync(outside, 0o755);
    writeFileSync(join(outside, "rock.yml"), "token: kept-elsewhere\n");
    mkdirSync(join(outside, "keys"));
    writeFileSync(join(outside, "keys", "key.pem"), "secret key\n");
    writeFileSync(join(outside, "public.txt"), "public\n");
    server = await startServer({}, `    hide: [${join(outside, "rock.yml")}, ${join(outside, "keys")}]\n`);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(outside, { recursive: true, force: true });
  });

  test("a listed file reads empty, a listed directory is empty, the rest stays visible", async () => {
    const sandbox = newSandbox(server);
    await sandbox.start();
    try {
      const seen = await run(sandbox, `cat '${outside}/rock.yml'; ls -A '${outside}/keys'; cat '${outside}/public.txt'`);
      expect(seen).toMatchObject({ exit_code: 0, stdout: "public\n" });
    } finally {
      await sandbox.stop();
    }
  });
});

describe("local sandbox without bubblewrap", () => {
  let server: ServerProcess;
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "rock-no-bwrap-"));
    server = await startServer({ ROCK_LOCAL_BWRAP: join(scratch, "no-such-bwrap") });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("starts anyway, warns loudly, and says isolation: none in its status", async () => {
    expect(server.log()).toContain("LOCAL SANDBOXES ARE NOT ISOLATED");
    expect(server.log()).toContain(`bubblewrap ('${join(scratch, "no-such-bwrap")}') is not installed`);
    const sandbox = newSandbox(server);
    const status = await sandbox.start();
    try {
      expect(status.isolation).toBe("none");
      expect((await sandbox.status()).isolation).toBe("none");
      expect((await run(sandbox, "echo works")).stdout).toBe("works\n");
      expect(server.log()).toContain("local sandbox runs WITHOUT isolation");
    } finally {
      await sandbox.stop();
    }
  });
});

describe.skipIf(!available("bubblewrap", bubblewrap()))("bubblewrap around the rocklet", () => {
  test("the supervisor spares bubblewrap the SIGTERM: the rocklet (here a shell trapping TERM) ends gracefully", async () => {
    const dir = mkdtempSync(join(repoRoot, "test", ".tmp", "supervisor-"));
    try {
      const features = bwrapFeatures(await new Response(Bun.spawn([bubblewrap()!, "--help"], { stdout: "pipe" }).stdout).text());
      const view = { workDir: dir, hide: [repoRoot], expose: [], tmpBytes: 1024 ** 2 };
      const script = `trap 'echo graceful > ${dir}/term; exit 0' TERM; echo > ${dir}/ready; while :; do sleep 0.05; done`;
      const log = join(dir, "log");
      const supervisor = Bun.spawn(
        [process.execPath, join(repoRoot, "plugins/deployments/local/supervisor.ts"), "--log", log, "--grace-ms", "3000", "--isolated", "--", ...bwrapCommand(bubblewrap()!, features, view, pathKind, ["/bin/sh", "-c", script])],
        { stdin: "ignore", stdout: "ignore", stderr: "ignore" },
      );
      const deadline = Date.now() + 10_000;
      while (!existsSync(join(dir, "ready")) && Date.now() < deadline) await Bun.sleep(20);
      expect(existsSync(join(dir, "ready"))).toBe(true);
      supervisor.kill("SIGTERM");
      expect(await supervisor.exited).toBe(0);
      expect(readFileSync(join(dir, "term"), "utf8")).toBe("graceful\n");
      expect(readFileSync(log, "utf8")).toContain("rocklet exited (0)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("mounts that come and go on the host (containers of an engine) do not fail a sandbox's setup", async () => {
    const dir = mkdtempSync(join(repoRoot, "test", ".tmp", "churn-"));
    const churn = join(dir, "mounts");
    mkdirSync(churn);
    // Root is needed to mount; this suite runs as root under CI (test/env/up needs it anyway).
    // As an engine does with containers' root filesystems: mounts made, unmounted and their directories removed, about
    // sixty alive per loop; bubblewrap fails about one setup in ten against this without its retry.
    const loop = (n: number) => `i=0; while :; do i=$((i+1)); mkdir -p m${n}-$i; mount -t tmpfs t m${n}-$i; umount m${n}-$((i-60)); rmdir m${n}-$((i-60)); done`;
    const mounters = [1, 2, 3].map((n) => Bun.spawn(["/bin/sh", "-c", `cd ${churn}; ${loop(n)}`], { stdout: "ignore", stderr: "ignore" }));
    await Bun.sleep(1000);
    try {
      const features = bwrapFeatures(await new Response(Bun.spawn([bubblewrap()!, "--help"], { stdout: "pipe" }).stdout).text());
      const view = { workDir: join(dir, "work"), hide: [], expose: [], tmpBytes: 1024 ** 2 };
      mkdirSync(view.workDir);
      const failures: string[] = [];
      for (let i = 0; i < 40; i++) {
        const log = join(dir, `log-${i}`);
        const supervisor = Bun.spawn([process.execPath, join(repoRoot, "plugins/deployments/local/supervisor.ts"), "--log", log, "--grace-ms", "0", "--isolated", "--", ...bwrapCommand(bubblewrap()!, features, view, pathKind, ["/bin/true"])], {
          stdin: "ignore",
          stdout: "ignore",
          stderr: "ignore",
        });
        if ((await supervisor.exited) !== 0) failures.push(readFileSync(log, "utf8"));
      }
      expect(failures).toEqual([]);
    } finally {
      for (const mounter of mounters) mounter.kill("SIGKILL");
      await Promise.all(mounters.map((m) => m.exited));
      Bun.spawnSync(["/bin/sh", "-c", `for m in ${churn}/m*; do umount -l "$m" 2>/dev/null; done`]);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("older bubblewraps: options their --help does not list are left out", () => {
    const view = { workDir: "/srv/w", hide: [], expose: [], tmpBytes: 1024 };
    const old = bwrapCommand("bwrap", bwrapFeatures("--unshare-user --tmpfs DEST"), view, pathKind, ["true"]);
    expect(old).not.toContain("--size");
    expect(old).not.toContain("--disable-userns");
    const current = bwrapCommand("bwrap", bwrapFeatures("--size BYTES\n--disable-userns"), view, pathKind, ["true"]);
    expect(current).toContain("--size");
    expect(current).toContain("--disable-userns");
  });

  test("isolation: bubblewrap refuses to start the kernel when bubblewrap is missing, naming the field and the program", async () => {
    const missing = join(repoRoot, "test", ".tmp", "no-such-bwrap");
    await expect(bootDeployment("local", `plugins:\n  local:\n    isolation: bubblewrap\n    bwrap: ${missing}\n`)).rejects.toThrow(
      `plugins.local.isolation is bubblewrap, but bubblewrap ('${missing}') is not installed`,
    );
  });
});
