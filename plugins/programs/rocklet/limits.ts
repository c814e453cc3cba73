/**
 * The sandbox's own limits, as its commands meet them: a spawn that fails because the sandbox ran out of processes
 * or memory is reported naming the limit, and every command the rocklet starts is the OOM killer's first choice, so
 * that a command exhausting the memory limit is killed instead of the rocklet.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { RockletError } from "./errors.ts";
import { osError } from "./os-errors.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";

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

let ownScore: string | null | undefined;

function writeScore(pid: number | "self", score: string): boolean {
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, score);
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns a command as the OOM killer's first choice (oom_score_adj 1000; what it starts later inherits it): our own
 * score is raised for the length of the spawn, so that the child has it from its first instruction and nothing it
 * forks at once escapes it, then restored (going back down to the value we started with needs no privilege). Where
 * our own score cannot be written (an undumpable process that is not root), the child's is written right after.
 */
export function spawnAsOomVictim<T extends { pid: number }>(spawn: () => T): T {
  if (ownScore === undefined) {
    try {
      ownScore = readFileSync("/proc/self/oom_score_adj", "utf8").trim();
    } catch {
      ownScore = null;
    }
  }
  const raised = ownScore !== null && writeScore("self", "1000");
  try {
    const child = spawn();
    if (!raised) writeScore(child.pid, "1000");
    return child;
  } finally {
    if (raised) writeScore("self", ownScore!);
  }
}

/**
 * The runtime's file-system worker threads are started on first use (they stay once started). In a sandbox that
 * holds every pid of its cgroup (a fork bomb), starting one fails, and that aborts the whole rocklet: its first
 * write_file or upload after the bomb killed it. So they are started at once: enough operations at the same time make
 * the pool start all of them.
 */
export async function startWorkerThreads(): Promise<void> {
  await Promise.all(Array.from({ length: Math.max(8, 4 * availableParallelism()) }, () => readFile("/proc/self/stat").catch(() => undefined)));
}
