/**
 * Registered workers, kept in the store (Redis or in-process) so that an Agent restart keeps them, with an
 * in-memory copy for the hot path that `refresh()` re-reads (the health loop calls it on every round).
 */
import type { Store } from "../../../core/store/store.ts";

export interface Registration {
  name: string;
  endpoint: string;
  /** Streams the worker takes at once (form field `slots`, default 1 as in the original). */
  slots: number;
  registered_at: number;
}

const prefix = "worker:";
const keyOf = (name: string, endpoint: string) => `${prefix}${encodeURIComponent(name)}:${encodeURIComponent(endpoint)}`;

export class WorkerRegistry {
  private byName = new Map<string, Registration[]>();

  constructor(private readonly store: Store) {}

  async refresh(): Promise<void> {
    const next = new Map<string, Registration[]>();
    for (const { value } of await this.store.scan<Registration>(prefix)) {
      const list = next.get(value.name) ?? [];
      list.push(value);
      next.set(value.name, list);
    }
    for (const list of next.values()) list.sort((a, b) => a.registered_at - b.registered_at);
    this.byName = next;
  }

  /** False when this name already has this endpoint. */
  async add(name: string, endpoint: string, slots: number): Promise<boolean> {
    const registration: Registration = { name, endpoint, slots, registered_at: Date.now() };
    const added = await this.store.set(keyOf(name, endpoint), registration, { ifAbsent: true });
    if (added) this.byName.set(name, [...(this.byName.get(name) ?? []), registration]);
    return added;
  }

  /** Removes every registration of `name` whose endpoint `matches`; returns how many went. */
  async remove(name: string, matches: (endpoint: string) => boolean): Promise<number> {
    const gone = (this.byName.get(name) ?? []).filter((r) => matches(r.endpoint));
    for (const r of gone) await this.store.delete(keyOf(name, r.endpoint));
    const left = (this.byName.get(name) ?? []).filter((r) => !matches(r.endpoint));
    if (left.length) this.byName.set(name, left);
    else this.byName.delete(name);
    return gone.length;
  }

  workers(name: string): Registration[] {
    return this.byName.get(name) ?? [];
  }

  all(): Registration[] {
    return [...this.byName.values()].flat();
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}
