/**
 * Which admins sharing a store are alive: each renews `admin:{id}` with a time to live while it runs and deletes it
 * when it stops. A start is run by the admin that created its record; the others leave it alone while that admin is
 * alive, and the lease holder resolves it (adopt or undo) once it is gone.
 */
import type { Store } from "../../../core/store/store.ts";

export class AdminPresence {
  constructor(
    readonly adminId: string,
    private readonly store: Store,
    private readonly ttlMs: number,
  ) {}

  async renew(): Promise<void> {
    await this.store.set(`admin:${this.adminId}`, Date.now(), { ttlMs: this.ttlMs });
  }

  async isAlive(adminId: string): Promise<boolean> {
    return (await this.store.get(`admin:${adminId}`)) !== null;
  }

  async leave(): Promise<void> {
    await this.store.delete(`admin:${this.adminId}`);
  }
}
