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

/** Registrations added and removed while a refresh reads the store; its snapshot may predate them. */
interface ChangesDuringRefresh {
  added: Map<string, Registration>;
  removed: Set<string>;
}

export class WorkerRegistry {
  private byName = new Map<string, Registration[]>();
  private changes?: ChangesDuringRefresh;

  constructor(private readonly store: Store) {}

  async refresh(): Promise<void> {
    const changes: ChangesDuringRefresh = { added: new Map(), removed: new Set() };
    this.changes = changes;
    let entries;
    try {
      entries = await this.store.scan<Registration>(prefix);
    } finally {
      if (this.changes === changes) this.changes = undefined;
    }
    const byKey = new Map(entries.map(({ value }) => [keyOf(value.name, value.endpoint), value]));
    for (const [key, registration] of changes.added) byKey.set(key, registration);
    for (const key of changes.removed) byKey.delete(key);
    const next = new Map<string, Registration[]>();
    for (const value of byKey.values()) next.set(value.name, [...(next.get(value.name) ?? []), value]);
    for (const list of next.values()) list.sort((a, b) => a.registered_at - b.registered_at);
    this.byName = next;
  }

  /** False when this name already has this endpoint. */
  async add(name: string, endpoint: string, slots: number): Promise<boolean> {
    const registration: Registration = { name, endpoint, slots, registered_at: Date.now() };
    const added = await this.store.set(keyOf(name, endpoint), registration, { ifAbsent: true });
    if (added) {
      this.byName.set(name, [...(this.byName.get(name) ?? []), registration]);
      this.changes?.added.set(keyOf(name, endpoint), registration);
      this.changes?.removed.delete(keyOf(name, endpoint));
    }
    return added;
  }

  /** Removes every registration of `name` whose endpoint `matches`; returns how many went. */
  async remove(name: string, matches: (endpoint: string) => boolean): Promise<number> {
    const gone = (this.byName.get(name) ?? []).filter((r) => matches(r.endpoint));
    for (const r of gone) {
      await this.store.delete(keyOf(name, r.endpoint));
      this.changes?.removed.add(keyOf(name, r.endpoint));
      this.changes?.added.delete(keyOf(name, r.endpoint));
    }
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
