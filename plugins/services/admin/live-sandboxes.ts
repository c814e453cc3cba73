/**
 * Hot state of active sandboxes in the store: `alive:{id}` (where the rocklet is and its token, never sent to
 * clients) and `timeout:{id}` (ROCK's sliding idle timeout, `{auto_clear_time: minutes, expire_time: epoch s}`). A copy
 * of the durable record, written after it and rebuilt from it (see `lifecycle.ts`).
 */
import type { Store } from "../../../core/store/store.ts";
import type { SandboxState } from "../../protocol/rock-admin/states.ts";

export interface LiveSandbox {
  sandbox_id: string;
  state: SandboxState;
  image: string;
  user_id: string;
  experiment_id: string;
  namespace: string;
  /** Empty until the operator placed the sandbox. */
  rockletUrl: string;
  rockletToken: string;
  host_ip: string;
  host_name: string;
  create_time: string;
}

interface IdleTimeout {
  auto_clear_time: number;
  expire_time: number;
}

export class LiveSandboxes {
  constructor(private readonly store: Store) {}

  /** Writes the entry, whatever was there. */
  async put(info: LiveSandbox): Promise<void> {
    await this.store.set(`alive:${info.sandbox_id}`, info);
  }

  get(sandbox_id: string): Promise<LiveSandbox | null> {
    return this.store.get<LiveSandbox>(`alive:${sandbox_id}`);
  }

  async all(): Promise<LiveSandbox[]> {
    return (await this.store.scan<LiveSandbox>("alive:")).map((e) => e.value);
  }

  async forget(sandbox_id: string): Promise<void> {
    await this.store.delete(`alive:${sandbox_id}`);
    await this.store.delete(`timeout:${sandbox_id}`);
  }

  /** Starts or slides the idle timeout: expires `minutes` from now. */
  async touch(sandbox_id: string, minutes?: number): Promise<void> {
    const current = minutes ?? (await this.store.get<IdleTimeout>(`timeout:${sandbox_id}`))?.auto_clear_time;
    if (current === undefined) return;
    await this.store.set(`timeout:${sandbox_id}`, { auto_clear_time: current, expire_time: Date.now() / 1000 + current * 60 });
  }

  /** Epoch seconds at which the sandbox expires; null when it has no timeout record. */
  async expiresAt(sandbox_id: string): Promise<number | null> {
    const timeout = await this.store.get<Partial<IdleTimeout>>(`timeout:${sandbox_id}`);
    if (!timeout) return null;
    // As in ROCK, a timeout record without expire_time counts as expired.
    return typeof timeout.expire_time === "number" ? timeout.expire_time : 0;
  }
}
