/**
 * Host ports of tool nodes: the lowest port from `first` that no active instance holds and nothing on the host
 * listens on. Derived from the records on every call, so a restarted manager knows exactly what its nodes hold
 * (the original's allocator lived in memory and handed out ports its running nodes still used).
 */
import { isActive, type InstanceRecords } from "./instance-records.ts";

function bindable(port: number): boolean {
  try {
    const probe = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    probe.stop(true);
    return true;
  } catch {
    return false;
  }
}

export class PortAllocator {
  /** Ports handed out whose instance record is not written yet. */
  private readonly reserved = new Set<number>();

  constructor(
    private readonly records: InstanceRecords,
    private readonly first: number,
    private readonly last: number,
  ) {}

  private held(): Set<number> {
    const held = new Set(this.reserved);
    for (const record of this.records.all()) if (isActive(record.status)) held.add(record.port);
    return held;
  }

  /** A free port, `preferred` (an instance's earlier port) when it is free; throws when the range is exhausted. */
  allocate(preferred?: number): number {
    const held = this.held();
    const free = (port: number) => !held.has(port) && bindable(port);
    if (preferred !== undefined && preferred >= this.first && preferred <= this.last && free(preferred)) return this.reserve(preferred);
    for (let port = this.first; port <= this.last; port++) if (free(port)) return this.reserve(port);
    throw new Error(`no free port for a tool node in ${this.first}-${this.last}`);
  }

  private reserve(port: number): number {
    this.reserved.add(port);
    return port;
  }

  /** The record now holds the port (or the create was abandoned). */
  settle(port: number): void {
    this.reserved.delete(port);
  }
}
