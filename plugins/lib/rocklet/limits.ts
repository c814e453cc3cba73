/**
 * The sandbox's own limits, as its commands meet them: a spawn that fails because the sandbox ran out of processes
 * or memory is reported naming the limit, and every process the rocklet starts is the OOM killer's first choice, so
 * that a command exhausting the memory limit is killed instead of the rocklet.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { RockletError } from "./errors.ts";
import { osError } from "./os-errors.ts";
import { pythonRepr } from "./python-repr.ts";

/** A cgroup file of this process's cgroup (v2 unified, else the v1 controller's mount); null when unreadable. */
function cgroupFile(v2: string, v1: string): string | null {
  for (const path of [`/sys/fs/cgroup/${v2}`, `/sys/fs/cgroup/${v1}`]) {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      // Not this cgroup version.
    }
  }
  return null;
}

const MIB = 1024 ** 2;
/** cgroup v1 reports "no limit" as a huge page-aligned number. */
const unlimited = (bytes: number) => !Number.isFinite(bytes) || bytes >= 2 ** 62;

function processLimit(): string {
  const max = cgroupFile("pids.max", "pids/pids.max");
  if (!max || max === "max") return "a process limit (RLIMIT_NPROC or the host's pid limit)";
  const current = cgroupFile("pids.current", "pids/pids.current");
  return `its process limit (pids.max ${max}${current ? `, ${current} in use` : ""}; threads count too)`;
}

function memoryLimit(): string {
  const max = Number(cgroupFile("memory.max", "memory/memory.limit_in_bytes"));
  if (unlimited(max) || max <= 0) return "out of memory";
  const current = Number(cgroupFile("memory.current", "memory/memory.usage_in_bytes"));
  const used = Number.isFinite(current) && current > 0 ? `, ${Math.round(current / MIB)} MiB in use` : "";
  return `out of memory (limit ${Math.round(max / MIB)} MiB${used})`;
}

/**
 * Why `program` could not be started. EAGAIN (no process slot left) and ENOMEM name the sandbox's limit and what to
 * do; anything else is the usual OSError.
 */
export function spawnError(error: unknown, program: string): RockletError {
  const code = (error as { code?: unknown })?.code;
  if (code === "EAGAIN") {
    return new RockletError(
      `[Errno 11] Resource temporarily unavailable: cannot start ${pythonRepr(program)}: the sandbox has reached ${processLimit()}; ` +
        "end some of its processes (close a session, kill background jobs) and retry",
      "builtins.BlockingIOError",
    );
  }
  if (code === "ENOMEM") {
    return new RockletError(
      `[Errno 12] Cannot allocate memory: cannot start ${pythonRepr(program)}: the sandbox is ${memoryLimit()}; ` +
        "end some of its processes and retry",
      "builtins.MemoryError",
    );
  }
  return osError(error, program);
}

/**
 * Marks a process the rocklet started (and what it starts later, which inherits the value) as the OOM killer's first
 * choice. Raising the score needs no privilege; where /proc is not Linux's, nothing happens.
 */
export function yieldToOomKiller(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, "1000");
  } catch {
    // Already gone, or not Linux.
  }
}
