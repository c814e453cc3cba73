/**
 * Polls `get_status` until a sandbox answers. The interval starts short and grows (a start usually takes well under a
 * second on a warm host, but thousands of waiting clients must not hammer the admin), and the wait is bounded. A
 * sandbox that the admin gave up on (stopped while starting, a failed phase) ends the wait at once with the reason.
 */
import { isFailedPhase } from "../../protocol/rock-admin/states.ts";
import type { RockClient } from "./client.ts";
import { BadRequestRockError, ConnectionRockError, SandboxStartError } from "./errors.ts";
import type { SandboxState, SandboxStatus } from "./types.ts";

export interface StartProgress {
  sandboxId: string;
  /** Null until the first status answer. */
  state: SandboxState | null;
  isAlive: boolean;
  /** True when `state` differs from the previous poll's. */
  changed: boolean;
  /** Since the start was asked for (see `since`). */
  elapsedMs: number;
}

export interface WaitOptions {
  /** Bound of the whole wait (default 180 s, ROCK's SDK startup timeout). */
  timeoutMs?: number;
  /** First poll interval (default 20 ms), growing by a quarter each poll up to `maxIntervalMs` (default 1 s). */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** Called after every poll: to print state changes or dots. */
  onProgress?: (progress: StartProgress) => void;
  /** `performance.now()` at which the start was asked for: progress times count from it (default: the wait's start). */
  since?: number;
  signal?: AbortSignal;
}

export const DEFAULT_STARTUP_TIMEOUT_MS = 180_000;

// Not Bun.sleep: the SDK also runs under Node.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function failedPhase(status: SandboxStatus): string | null {
  for (const [phase, detail] of Object.entries(status.status ?? {})) {
    if (isFailedPhase(detail?.status)) return `${phase} ${detail.status}${detail.message ? `: ${detail.message}` : ""}`;
  }
  return null;
}

/** Why a sandbox that is no longer active stopped, from its full record. */
async function endedReason(client: RockClient, sandboxId: string): Promise<{ reason: string; state: SandboxState | null }> {
  const record = await client.getStatus(sandboxId, true).catch(() => null);
  if (!record) return { reason: `sandbox ${sandboxId} does not exist (any more)`, state: null };
  return { reason: `sandbox ${sandboxId} is ${record.state}: the admin gave up on the start (see its log)`, state: record.state };
}

export async function waitUntilAlive(client: RockClient, sandboxId: string, options: WaitOptions = {}): Promise<SandboxStatus> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  const maxInterval = options.maxIntervalMs ?? 1000;
  let interval = options.intervalMs ?? 20;
  const began = performance.now();
  const since = options.since ?? began;
  let lastState: SandboxState | null = null;
  let lastTransient: string | null = null;
  for (;;) {
    options.signal?.throwIfAborted();
    let status: SandboxStatus | null = null;
    try {
      status = await client.getStatus(sandboxId);
    } catch (error) {
      if (error instanceof BadRequestRockError) {
        const ended = await endedReason(client, sandboxId);
        throw new SandboxStartError(ended.reason, sandboxId, ended.state ?? lastState);
      }
      // The admin restarting or briefly overloaded: keep waiting, report it if the wait runs out.
      if (!(error instanceof ConnectionRockError)) throw error;
      lastTransient = error.message;
    }
    const now = performance.now();
    const elapsedMs = now - began;
    if (status) {
      options.onProgress?.({ sandboxId, state: status.state, isAlive: status.is_alive, changed: status.state !== lastState, elapsedMs: now - since });
      lastState = status.state;
      if (status.is_alive) return status;
      const failed = failedPhase(status);
      if (failed) throw new SandboxStartError(`sandbox ${sandboxId} failed to start: ${failed}`, sandboxId, lastState);
    }
    const remaining = timeoutMs - elapsedMs;
    if (remaining <= 0) {
      const last = lastState ? `its state is still ${lastState}` : `no status answer${lastTransient ? ` (${lastTransient})` : ""}`;
      throw new SandboxStartError(`sandbox ${sandboxId} did not become alive within ${(timeoutMs / 1000).toFixed(1)} s: ${last}`, sandboxId, lastState);
    }
    await sleep(Math.min(interval, remaining));
    interval = Math.min(interval * 1.25, maxInterval);
  }
}
