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
  /** The worker's own bearer token (form field `token`), sent when the Agent calls it; never listed. */
  token?: string;
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

  /**
   * False when this name already has this endpoint with this token. A worker that restarted on the same endpoint
   * with a new token replaces its registration (the Agent must call it with the new one).
   */
  async add(name: string, endpoint: string, slots: number, token?: string): Promise<boolean> {
    const registration: Registration = { name, endpoint, slots, registered_at: Date.now(), ...(token ? { token } : {}) };
    const key = keyOf(name, endpoint);
    let added = await this.store.set(key, registration, { ifAbsent: true });
    if (!added) {
      const existing = await this.store.get<Registration>(key);
      if (!existing || existing.token === registration.token) return false;
      await this.store.set(key, { ...registration, registered_at: existing.registered_at });
      registration.registered_at = existing.registered_at;
      added = true;
    }
    const others = (this.byName.get(name) ?? []).filter((r) => r.endpoint !== endpoint);
    this.byName.set(name, [...others, registration].sort((a, b) => a.registered_at - b.registered_at));
    this.changes?.added.set(key, registration);
    this.changes?.removed.delete(key);
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
