import { readdirSync, readFileSync } from "node:fs";

/** Linux /proc helpers for escalating an interrupt that SIGINT alone did not achieve. */

/** Clock ticks per second of /proc/<pid>/stat start times (USER_HZ, 100 on every mainstream Linux build). */
const TICKS_PER_SECOND = 100;

const calibration = (() => {
  try {
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    return { uptime, at: performance.now() };
  } catch {
    return null;
  }
})();

/** Seconds since boot, the clock of process start times; derived from one reading so that it costs nothing. */
export function secondsSinceBoot(): number {
  return calibration ? calibration.uptime + (performance.now() - calibration.at) / 1000 : 0;
}

interface ProcessInfo {
  pid: number;
  parent: number;
  startedAt: number;
}

function listProcesses(): ProcessInfo[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const processes: ProcessInfo[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // The command name is in parentheses and may itself contain spaces or parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      processes.push({ pid: Number(name), parent: Number(fields[1]), startedAt: Number(fields[19]) / TICKS_PER_SECOND });
    } catch {
      // The process exited while the table was read.
    }
  }
  return processes;
}

function ignoresSigint(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 2n) !== 0n;
  } catch {
    return false;
  }
}

/**
 * SIGKILLs the process subtrees of the shell's children that started at or after `since` (seconds since boot), i.e.
 * that belong to the command being interrupted; background jobs of earlier commands are spared. With
 * `sparingSigintIgnorers`, children that ignore SIGINT are spared as well: without job control bash starts
 * `cmd &` jobs that way, so this first pass targets the foreground program. Returns how many processes were killed.
 */
export function killCommandChildren(shellPid: number, since: number, sparingSigintIgnorers: boolean): number {
  const processes = listProcesses();
  const childrenOf = new Map<number, ProcessInfo[]>();
  for (const info of processes) {
    const siblings = childrenOf.get(info.parent) ?? [];
    siblings.push(info);
    childrenOf.set(info.parent, siblings);
  }
  let killed = 0;
  const killTree = (pid: number) => {
    for (const child of childrenOf.get(pid) ?? []) killTree(child.pid);
    try {
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // Already gone.
    }
  };
  // One tick of slack: start times are rounded down to 10 ms.
  const threshold = since - 1 / TICKS_PER_SECOND;
  for (const child of childrenOf.get(shellPid) ?? []) {
    if (child.startedAt < threshold) continue;
    if (sparingSigintIgnorers && ignoresSigint(child.pid)) continue;
    killTree(child.pid);
  }
  return killed;
}
