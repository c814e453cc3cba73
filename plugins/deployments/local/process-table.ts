import { readdirSync, readFileSync } from "node:fs";

/** Linux /proc, read as little as needed to tell who is alive and who descends from whom. */

export interface ProcessEntry {
  pid: number;
  parent: number;
  /** R, S, D, T, Z (zombie), X (dead), … */
  state: string;
  /** Start time in clock ticks since boot: with the pid it identifies a process even after the pid is reused. */
  startTicks: number;
}

/** How /proc is read; the plugin passes one that goes through its permissions. */
export interface ProcReader {
  text(path: string): string;
  names(dir: string): string[];
}

export const directProcReader: ProcReader = {
  text: (path) => readFileSync(path, "utf8"),
  names: (dir) => readdirSync(dir),
};

export function readProcess(pid: number, reader: ProcReader = directProcReader): ProcessEntry | null {
  let stat: string;
  try {
    stat = reader.text(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pid, parent: Number(fields[1]), state: fields[0], startTicks: Number(fields[19]) };
}

export function processTable(reader: ProcReader = directProcReader): ProcessEntry[] {
  let names: string[];
  try {
    names = reader.names("/proc");
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+$/.test(n)).flatMap((n) => readProcess(Number(n), reader) ?? []);
}

export function isLive(entry: ProcessEntry | null): entry is ProcessEntry {
  return entry !== null && entry.state !== "Z" && entry.state !== "X";
}

/** True while the process that was started at `startTicks` still runs (a reused pid does not count). */
export function stillRunning(pid: number, startTicks: number, reader: ProcReader = directProcReader): boolean {
  const entry = readProcess(pid, reader);
  return isLive(entry) && entry.startTicks === startTicks;
}

/** Every process below `root` in the parent tree, zombies included, parents before children. */
export function descendantsOf(root: number, table: ProcessEntry[]): ProcessEntry[] {
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of table) {
    const siblings = children.get(entry.parent) ?? [];
    siblings.push(entry);
    children.set(entry.parent, siblings);
  }
  const out: ProcessEntry[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      visit(child.pid);
    }
  };
  visit(root);
  return out;
}

export function sendSignal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone (ESRCH), or no longer ours.
  }
}
