/**
 * Admins that share one Redis run the idle scan and the reconciler only while they hold the maintenance lease: exactly
 * one holds it at a time; one that stops lets go and another takes over at once; a holder that died (its key left
 * behind) is replaced once the key expires.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { RedisStore } from "../../core/store/redis.ts";
import type { Lease } from "../../plugins/services/admin/lease.ts";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { available, redisUrl } from "../support/env.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

const url = redisUrl();
const LEASE_MS = 800;

describe.skipIf(!available("redis", url))("admin: the maintenance lease among admins on one Redis", () => {
  const prefix = `rock-lease-${process.pid}:`;
  const running: { kernel: Kernel; project: TempProject }[] = [];

  const bootAdmin = async () => {
    await ensureRockletBinary();
    const project = tempProject("rock-lease-");
    const yaml =
      `store:\n  type: redis\n  url: ${url}\n  key_prefix: "${prefix}"\nplugins:\n  local:\n    stop_grace_ms: 200\n  local-operator: {}\n` +
      `  admin:\n    port: 0\n    reconcile_interval_ms: 100\n    maintenance_lease_ms: ${LEASE_MS}\n`;
    const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    await kernel.start();
    running.push({ kernel, project });
    return kernel;
  };
  const leaseOf = (kernel: Kernel) => kernel.instance<{ lease: Lease }>("admin")!.lease;
  /** Counts the reconciler's passes from now on (the timer calls the instance's method). */
  const countPasses = (kernel: Kernel) => {
    const maintenance = kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance;
    const pass = maintenance.reconcile.bind(maintenance);
    const counter = { passes: 0 };
    maintenance.reconcile = () => {
      counter.passes++;
      return pass();
    };
    return counter;
  };
  /** Samples both leases for `ms`: how many samples had no holder, one, or two. */
  const sample = async (kernels: Kernel[], ms: number) => {
    const counts = { none: 0, one: 0, both: 0 };
    for (const until = Date.now() + ms; Date.now() < until; await Bun.sleep(25)) {
      const held = kernels.filter((k) => leaseOf(k).held).length;
      counts[held === 0 ? "none" : held === 1 ? "one" : "both"]++;
    }
    return counts;
  };

  afterAll(async () => {
    for (const { kernel, project } of running.splice(0)) {
      await kernel.stop().catch(() => undefined);
      project.remove();
    }
  });

  test("one holder at a time; a stopped holder hands over at once; a dead holder's key lapses and is taken", async () => {
    const a = await bootAdmin();
    const b = await bootAdmin();
    const [passesA, passesB] = [countPasses(a), countPasses(b)];
    const both = await sample([a, b], 2 * LEASE_MS);
    expect(both.both).toBe(0);
    expect(both.none).toBe(0);
    const [holder, other] = leaseOf(a).held ? [a, b] : [b, a];
    // Only the holder reconciles (every 100 ms).
    const [holderPasses, otherPasses] = holder === a ? [passesA, passesB] : [passesB, passesA];
    expect(holderPasses.passes).toBeGreaterThan(5);
    expect(otherPasses.passes).toBe(0);

    // The holder stops: it releases the key, the other takes it at its next renewal (a third of the time to live).
    await holder.stop();
    const handedOver = Date.now();
    while (!leaseOf(other).held && Date.now() - handedOver < 5 * LEASE_MS) await Bun.sleep(10);
    expect(leaseOf(other).held).toBe(true);
    expect(Date.now() - handedOver).toBeLessThan(LEASE_MS);

    // A holder that died: its key stays until it expires; meanwhile nobody runs the jobs, then the survivor does.
    const store = new RedisStore(url!, { keyPrefix: prefix });
    try {
      await other.stop();
      await store.set("sandbox:maintenance-lease", "a-dead-admin", { ttlMs: LEASE_MS });
      const c = await bootAdmin();
      const died = Date.now();
      expect(leaseOf(c).held).toBe(false);
      while (!leaseOf(c).held && Date.now() - died < 5 * LEASE_MS) await Bun.sleep(10);
      expect(leaseOf(c).held).toBe(true);
      expect(Date.now() - died).toBeLessThan(LEASE_MS + LEASE_MS / 3 + 500);
      expect(await store.get("sandbox:maintenance-lease")).toBe(leaseOf(c).holder);
    } finally {
      await store.close();
    }
  }, 60_000);
});
