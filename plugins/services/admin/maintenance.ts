/**
 * Background upkeep: the idle scanner stops sandboxes whose sliding timeout expired, and the reconciler keeps the
 * records and the runtime in step (instances nobody owns are removed, running or dead; a sandbox whose instance died
 * is recorded as failed, with why, and what is left of its instance removed; a running sandbox whose hot state the
 * store lost gets it back from its record).
 */
import { stateOf } from "../../../core/kinds/deployment.ts";
import type { Operator } from "../../../core/kinds/operator.ts";
import type { Logger } from "../../../core/log.ts";
import { instanceFailure, type SandboxLifecycle } from "./lifecycle.ts";
import type { LiveSandboxes } from "./live-sandboxes.ts";
import type { SandboxRecords } from "./sandbox-records.ts";

export class Maintenance {
  constructor(
    private readonly operator: Operator,
    private readonly lifecycle: SandboxLifecycle,
    private readonly live: LiveSandboxes,
    private readonly records: SandboxRecords,
    private readonly log: Logger,
  ) {}

  async stopExpired(): Promise<string[]> {
    const now = Date.now() / 1000;
    const expired: string[] = [];
    for (const info of await this.live.all()) {
      if (this.lifecycle.starting.has(info.sandbox_id)) continue;
      const expiresAt = await this.live.expiresAt(info.sandbox_id);
      if (expiresAt === null || now <= expiresAt) continue;
      expired.push(info.sandbox_id);
      await this.lifecycle.stop(info.sandbox_id, "expired").catch((e) => this.log.warn("stopping an expired sandbox failed", { sandbox_id: info.sandbox_id, error: String(e) }));
    }
    return expired;
  }

  async reconcile(): Promise<{ stoppedInstances: string[]; stoppedRecords: string[]; rebuilt: string[] }> {
    const stoppedInstances: string[] = [];
    const stoppedRecords: string[] = [];
    const rebuilt: string[] = [];
    const liveIds = new Set((await this.live.all()).map((s) => s.sandbox_id));
    const active = new Map(this.records.active().map((r) => [r.sandbox_id, r]));
    const activeRecords = new Set(active.keys());
    for (const instance of await this.operator.list()) {
      const id = instance.sandbox_id;
      if (liveIds.has(id) || this.lifecycle.starting.has(id)) continue;
      // A dead instance of an active record is left for the loop below, which records why it died.
      if (instance.state !== "running" && activeRecords.has(id)) continue;
      // Running and recorded as running, but not in the store: the store lost it (Redis restarted without its data).
      const record = active.get(id);
      if (instance.state === "running" && record && (await this.lifecycle.rebuild(record))) {
        rebuilt.push(id);
        liveIds.add(id);
        continue;
      }
      await this.operator.stop(id);
      stoppedInstances.push(id);
    }
    // Records that claim to be active: their live entry may be gone (a restart of the admin) or their instance may be.
    for (const sandbox_id of new Set([...liveIds, ...activeRecords])) {
      if (this.lifecycle.starting.has(sandbox_id)) continue;
      const hasLive = liveIds.has(sandbox_id);
      const status = await this.operator.get_status(sandbox_id);
      const state = stateOf(status);
      if (hasLive && state === "running") continue;
      if (state === "running") await this.operator.stop(sandbox_id);
      if (state === "running" || stoppedInstances.includes(sandbox_id)) await this.lifecycle.markStopped(sandbox_id, "reconciled");
      else await this.lifecycle.fail(sandbox_id, instanceFailure(status));
      stoppedRecords.push(sandbox_id);
    }
    if (stoppedInstances.length || stoppedRecords.length || rebuilt.length) {
      this.log.info("reconciled", { stopped_instances: stoppedInstances, stopped_records: stoppedRecords, rebuilt });
    }
    return { stoppedInstances, stoppedRecords, rebuilt };
  }

  /** Runs `task` every `ms` until the returned function is called; a run never overlaps the previous one. */
  every(ms: number, name: string, task: () => Promise<unknown>): () => void {
    let running = false;
    const timer = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await task();
      } catch (error) {
        this.log.warn(`${name} failed`, { error: String(error) });
      } finally {
        running = false;
      }
    }, ms);
    return () => clearInterval(timer);
  }
}
