/**
 * The rocklet's token stays on the server: it is in neither the container's config nor any environment, command
 * line, memory or file that a command run in the sandbox can read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import type { SandboxHandle, SandboxSpec } from "../../core/kinds/deployment.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { bootDeployment, ensureRockletBinary, execute, rockletCall, sandboxSpec, waitAlive, type BootedDeployment } from "./support.ts";

const socket = dockerSocket();

/**
 * What a command can see of the processes around it: every environment and command line in /proc, its own `env`,
 * and whether it may open the rocklet's (its parent's) environ, maps and memory.
 */
const LOOK_AROUND = `
echo "rocklet: $(tr '\\0' ' ' </proc/$PPID/cmdline)"
for f in /proc/self/environ /proc/1/environ /proc/1/cmdline /proc/$PPID/environ /proc/$PPID/cmdline /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do
  echo "== $f"; tr '\\0' '\\n' <"$f" 2>&1
done
echo "== env"; env
for f in environ maps mem; do
  if (exec 3<"/proc/$PPID/$f") 2>/dev/null; then echo "rocklet-$f: readable"; else echo "rocklet-$f: denied"; fi
done`;

describe.skipIf(!available("docker", socket))("docker deployment: the rocklet token stays on the server (real engine)", () => {
  let engine: Docker;
  let booted: BootedDeployment;
  let spec: SandboxSpec;
  let handle: SandboxHandle;

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    const binary = await ensureRockletBinary();
    booted = await bootDeployment("docker", `docker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n`);
    spec = sandboxSpec("dsecret", { image: sandboxImage(), cpus: 0.5, memoryBytes: 256 * 1024 ** 2, pidsLimit: 128 });
    handle = await booted.deployment.start(spec);
    await waitAlive(handle.rockletUrl, spec.rockletToken);
  }, 60_000);

  afterAll(async () => {
    if (spec) await booted?.deployment.stop(spec.sandbox_id);
    await booted?.close();
  });

  test("docker inspect of the sandbox shows the token nowhere", async () => {
    const info = await engine.getContainer(handle.instance_id).inspect();
    expect(info.Config.OpenStdin).toBe(true);
    expect(info.Config.StdinOnce).toBe(true);
    expect(JSON.stringify(info)).not.toContain(spec.rockletToken);
  });

  test("a one-shot command finds it in no environment, command line or rocklet memory", async () => {
    const seen = await execute(handle.rockletUrl, spec.rockletToken, LOOK_AROUND);
    expect(seen.stdout).toContain("rocklet: /rock/rocklet --host 0.0.0.0 --port 22555 --token-stdin");
    expect(seen.stdout).toContain("== /proc/1/environ\nPATH=");
    for (const f of ["environ", "maps", "mem"]) expect(seen.stdout).toContain(`rocklet-${f}: denied`);
    expect(seen.stdout + seen.stderr).not.toContain(spec.rockletToken);
  });

  test("a session finds it nowhere either", async () => {
    expect((await rockletCall(handle.rockletUrl, spec.rockletToken, "/create_session", { session: "look", env_enable: true })).status).toBe(200);
    const response = await rockletCall(handle.rockletUrl, spec.rockletToken, "/run_in_session", { session: "look", command: LOOK_AROUND, timeout: 30 });
    const seen = (await response.json()) as { output: string };
    expect(seen.output).toContain("rocklet: /rock/rocklet");
    for (const f of ["environ", "maps", "mem"]) expect(seen.output).toContain(`rocklet-${f}: denied`);
    expect(seen.output).not.toContain(spec.rockletToken);
  });

  test("no readable file in the sandbox holds it", async () => {
    // The needle travels in the request's env: it is in grep's own /proc entries only, which the search skips.
    const response = await rockletCall(handle.rockletUrl, spec.rockletToken, "/execute", {
      command: 'grep -rlsF -e "$NEEDLE" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; echo "grep exit $?"',
      env: { NEEDLE: spec.rockletToken },
      timeout: 120,
    });
    const searched = (await response.json()) as { stdout: string };
    expect(searched.stdout).toBe("grep exit 1\n");
  }, 150_000);
});
