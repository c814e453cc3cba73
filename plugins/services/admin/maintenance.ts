/**
 * Background upkeep: the idle scanner stops sandboxes whose sliding timeout expired, and the reconciler keeps the
 * records, the runtime and the hot state in step (instances nobody owns are removed, running or dead; a sandbox whose
 * instance died is recorded as failed, with why, and what is left of its instance removed; a running sandbox whose hot
 * state the store lost gets it back from its record; a start the admin was restarted in is adopted or undone).
 */
import type { Operator } from "../../../core/kinds/operator.ts";
import type { Logger } from "../../../core/log.ts";
import { ADOPT_GRACE_MS, type SandboxLifecycle } from "./lifecycle.ts";
import type { LiveSandboxes } from "./live-sandboxes.ts";
import { isPaused, type SandboxRecords } from "./sandbox-records.ts";

export class Maintenance {
  constructor(
    private readonly operator: Operator,
    private readonly lifecycle: SandboxLifecycle,
    private readonly live: LiveSandboxes,
    private readonly records: SandboxRecords,
    private readonly log: Logger,
    /** After the store lost its data, how long an instance without any record is kept (the other admins put theirs back meanwhile). */
    private readonly orphanGraceMs: number,
  ) {}

  async stopExpired(): Promise<string[]> {
    const now = Date.now() / 1000;
    const expired: string[] = [];
    for (const info of await this.live.all()) {
      if (this.lifecycle.starting.has(info.sandbox_id)) continue;
      const record = await this.records.get(info.sandbox_id);
      // A start another admin runs is its own; a paused sandbox waits for its resume, as E2B keeps one (resuming
      // restarts its timeout).
      if (record?.state === "pending" || (record && isPaused(record))) continue;
      const expiresAt = await this.live.expiresAt(info.sandbox_id);
      if (expiresAt === null || now <= expiresAt) continue;
      // E2B's `lifecycle.onTimeout: 'pause'`: paused, not stopped, when its timeout passes.
      if (record?.e2b?.on_timeout === "pause") {
        await this.lifecycle.pause(info.sandbox_id).catch((e) => this.log.warn("pausing an expired sandbox failed", { sandbox_id: info.sandbox_id, error: String(e) }));
        continue;
      }
      expired.push(info.sandbox_id);
      await this.lifecycle.stop(info.sandbox_id, "expired").catch((e) => this.log.warn("stopping an expired sandbox failed", { sandbox_id: info.sandbox_id, error: String(e) }));
    }
    return expired;
  }

  /**
   * One pass: compares the runtime's instances, the hot state and the active records, and gives each sandbox where
   * they disagree (or whose start no process of this admin owns) one reconcile step, a few at a time. The comparison
   * only picks them: each step reads them again in the sandbox's turn, so that a start, stop or call that ran
   * meanwhile is never undone. A start interrupted by a restart of the admin is resolved within the pass.
   */
  async reconcile(): Promise<{ stoppedInstances: string[]; stoppedRecords: string[]; rebuilt: string[]; adopted: string[] }> {
    const instances = new Map((await this.operator.list()).map((i) => [i.sandbox_id, i.state]));
    const hot = new Set((await this.live.all()).map((s) => s.sandbox_id));
    // The store holds every admin's records: starts run by other admins are among them (the step leaves them alone).
    const active = new Map((await this.records.active()).map((r) => [r.sandbox_id, r.state]));
    const suspects = [...new Set([...instances.keys(), ...hot, ...active.keys()])].filter((id) => {
      if (this.lifecycle.starting.has(id)) return false;
      const state = active.get(id);
      return state === undefined || state === "pending" || instances.get(id) !== "running" || !hot.has(id);
    });
    const outcome = { stoppedInstances: [] as string[], stoppedRecords: [] as string[], rebuilt: [] as string[], adopted: [] as string[] };
    const adoptBy = Date.now() + ADOPT_GRACE_MS;
    const keepUnrecorded = this.records.lostWithin(this.orphanGraceMs);
    await eachAtMost(RECONCILE_CONCURRENCY, suspects, async (id) => {
      const done = await this.lifecycle.reconcile(id, adoptBy, keepUnrecorded);
      if (done === "removed") outcome.stoppedInstances.push(id);
      else if (done === "failed" || done === "stopped") outcome.stoppedRecords.push(id);
      else if (done === "rebuilt") outcome.rebuilt.push(id);
      else if (done === "adopted") outcome.adopted.push(id);
    });
    if (Object.values(outcome).some((ids) => ids.length)) {
      this.log.info("reconciled", { stopped_instances: outcome.stoppedInstances, stopped_records: outcome.stoppedRecords, rebuilt: outcome.rebuilt, adopted: outcome.adopted });
    }
    return outcome;
  }

  /** Runs `task` every `ms` until the returned function is called (which waits for a run in progress); runs never overlap. */
  every(ms: number, name: string, task: () => Promise<unknown>): () => Promise<void> {
    let running: Promise<void> | null = null;
    const timer = setInterval(() => {
      if (running) return;
      running = task()
        .then(
          () => undefined,
          (error) => this.log.warn(`${name} failed`, { error: String(error) }),
        )
        .finally(() => (running = null));
    }, ms);
    return async () => {
      clearInterval(timer);
      await running;
    };
  }
}

/** Sandboxes reconciled at once: the engine's calls overlap, and a pass over hundreds stays within seconds. */
const RECONCILE_CONCURRENCY = 8;

/** Runs `work` on every item, at most `limit` at a time. */
async function eachAtMost<T>(limit: number, items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
