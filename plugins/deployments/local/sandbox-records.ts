import { join } from "node:path";
import type { ScopedFs } from "../../../core/permissions/fs.ts";

/** What the local deployment remembers of a sandbox; one JSON file each, so that a restarted kernel finds them. */
export interface SandboxRecord {
  sandbox_id: string;
  /** The supervisor: leader of the sandbox's process group. */
  pid: number;
  startTicks: number;
  port: number;
  workDir: string;
  /** Recorded, not used: a local sandbox runs on the host's filesystem. */
  image: string;
  runner: "binary" | "source";
  /** Absent in records written before sandboxes were isolated. */
  isolation?: "bubblewrap" | "none";
  labels: Record<string, string>;
  created_at: string;
}

/** The records in memory, written through to `<dir>/<sandbox_id>.json`. */
export class SandboxRecords {
  private readonly byId = new Map<string, SandboxRecord>();

  constructor(
    private readonly fs: ScopedFs,
    readonly dir: string,
  ) {}

  /** Reads what an earlier run left: its sandboxes may still run (orphans) or be dead. */
  async load(): Promise<void> {
    await this.fs.mkdir(this.dir);
    for (const name of await this.fs.readdir(this.dir)) {
      if (!name.endsWith(".json")) continue;
      try {
        const record = JSON.parse(await this.fs.readText(join(this.dir, name))) as SandboxRecord;
        this.byId.set(record.sandbox_id, record);
      } catch {
        // A file cut short by a crash while it was written: nothing to act on.
      }
    }
  }

  get(sandboxId: string): SandboxRecord | undefined {
    return this.byId.get(sandboxId);
  }

  all(): SandboxRecord[] {
    return [...this.byId.values()];
  }

  async put(record: SandboxRecord): Promise<void> {
    this.byId.set(record.sandbox_id, record);
    await this.fs.writeText(this.file(record.sandbox_id), JSON.stringify(record, null, 2));
  }

  async remove(sandboxId: string): Promise<void> {
    this.byId.delete(sandboxId);
    await this.fs.remove(this.file(sandboxId));
  }

  logFile(sandboxId: string): string {
    return join(this.dir, `${sandboxId}.log`);
  }

  private file(sandboxId: string): string {
    return join(this.dir, `${sandboxId}.json`);
  }
}
