import { existsSync, readFileSync, statfsSync } from "node:fs";
import { availableParallelism } from "node:os";

/**
 * `/get_statistics`: `{cpu, mem, disk, disk_log_percent, disk_dind_percent, net}`: cgroup (v2, else v1, else whole
 * host) CPU and memory percent, rootfs and log-dir/DinD disk percent, received+sent bytes of all non-loopback
 * interfaces. Best effort: every figure that cannot be read is null, nothing throws.
 */
export interface Statistics {
  cpu: number | null;
  mem: number | null;
  disk: number | null;
  disk_log_percent: number | null;
  disk_dind_percent: number | null;
  net: number | null;
}

interface CpuSample {
  usageMicros: number;
  atMicros: number;
}

let previousCpu: CpuSample | null = null;

/** Takes the first CPU sample, so that the first request already has a baseline to compare with. */
export function primeStatistics(): void {
  previousCpu = cpuSample();
}

export function collectStatistics(logDir = process.env.ROCK_LOGGING_PATH): Statistics {
  return {
    cpu: safely(cpuPercent),
    mem: safely(memoryPercent),
    disk: safely(() => diskPercent("/")),
    disk_log_percent: logDir ? safely(() => diskPercent(logDir)) : null,
    disk_dind_percent: existsSync("/var/lib/docker") ? safely(() => diskPercent("/var/lib/docker")) : null,
    net: safely(networkBytes),
  };
}

function safely(read: () => number | null): number | null {
  try {
    const value = read();
    return value === null || !Number.isFinite(value) ? null : value;
  } catch {
    return null;
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function round(percent: number): number {
  return Math.round(Math.min(100, Math.max(0, percent)) * 10) / 10;
}

function cpuPercent(): number | null {
  const sample = cpuSample();
  const previous = previousCpu;
  previousCpu = sample;
  if (!sample || !previous || sample.atMicros <= previous.atMicros) return null;
  const busy = sample.usageMicros - previous.usageMicros;
  return round((busy / ((sample.atMicros - previous.atMicros) * cpuCapacity())) * 100);
}

function cpuSample(): CpuSample | null {
  const atMicros = performance.now() * 1000;
  const v2 = readText("/sys/fs/cgroup/cpu.stat");
  const usageV2 = v2 ? /^usage_usec (\d+)$/m.exec(v2)?.[1] : undefined;
  if (usageV2 !== undefined) return { usageMicros: Number(usageV2), atMicros };
  const v1 = readText("/sys/fs/cgroup/cpuacct/cpuacct.usage") ?? readText("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage");
  if (v1) return { usageMicros: Number(v1.trim()) / 1000, atMicros };
  const host = readText("/proc/stat")?.split("\n")[0];
  if (!host) return null;
  const ticks = host.trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  // USER_HZ is 100 on Linux: one tick is 10 ms of one CPU.
  return { usageMicros: (total - idle) * 10_000, atMicros };
}

/** CPUs the cgroup may use: its quota when limited, else the CPUs visible to the process. */
function cpuCapacity(): number {
  const max = readText("/sys/fs/cgroup/cpu.max")?.trim().split(/\s+/);
  if (max && max[0] !== "max" && Number(max[1]) > 0) return Number(max[0]) / Number(max[1]);
  const quota = Number(readText("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") ?? "-1");
  const period = Number(readText("/sys/fs/cgroup/cpu/cpu.cfs_period_us") ?? "0");
  if (quota > 0 && period > 0) return quota / period;
  return availableParallelism();
}

/** envd's `GET /metrics`: the same sources as `/get_statistics`, in bytes and counts. */
export function envdMetrics() {
  const memory = memoryBytes();
  let fs: ReturnType<typeof statfsSync> | null = null;
  try {
    fs = statfsSync("/");
  } catch {
    // No figures for the disk.
  }
  return {
    ts: Math.floor(Date.now() / 1000),
    cpu_count: Math.max(1, Math.ceil(cpuCapacity())),
    cpu_used_pct: safely(cpuPercent) ?? 0,
    mem_total: memory?.total ?? 0,
    mem_used: memory?.used ?? 0,
    mem_cache: memory?.cache ?? 0,
    mem_total_mib: Math.round((memory?.total ?? 0) / 1024 ** 2),
    mem_used_mib: Math.round((memory?.used ?? 0) / 1024 ** 2),
    disk_used: fs ? (fs.blocks - fs.bfree) * fs.bsize : 0,
    disk_total: fs ? (fs.blocks - fs.bfree + fs.bavail) * fs.bsize : 0,
  };
}

/** The sandbox's memory: its cgroup's (v2, else v1) usage without the inactive page cache, and its limit. */
function memoryBytes(): { used: number; total: number; cache: number } | null {
  const hostTotal = meminfo("MemTotal");
  const v2Current = readText("/sys/fs/cgroup/memory.current");
  if (v2Current) {
    const limitText = readText("/sys/fs/cgroup/memory.max")?.trim();
    const total = limitText && limitText !== "max" ? Number(limitText) : hostTotal;
    const stat = readText("/sys/fs/cgroup/memory.stat");
    const cache = statValue(stat, "file");
    return total ? { used: Number(v2Current) - statValue(stat, "inactive_file"), total, cache } : null;
  }
  const v1Usage = readText("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  if (v1Usage) {
    const v1Limit = Number(readText("/sys/fs/cgroup/memory/memory.limit_in_bytes") ?? "0");
    const total = v1Limit > 0 && (!hostTotal || v1Limit < hostTotal) ? v1Limit : hostTotal;
    const stat = readText("/sys/fs/cgroup/memory/memory.stat");
    return total ? { used: Number(v1Usage) - statValue(stat, "total_inactive_file"), total, cache: statValue(stat, "total_cache") } : null;
  }
  const available = meminfo("MemAvailable");
  return hostTotal && available !== null ? { used: hostTotal - available, total: hostTotal, cache: meminfo("Cached") ?? 0 } : null;
}

function memoryPercent(): number | null {
  const hostTotal = meminfo("MemTotal");
  const v2Current = readText("/sys/fs/cgroup/memory.current");
  if (v2Current) {
    const limitText = readText("/sys/fs/cgroup/memory.max")?.trim();
    const limit = limitText && limitText !== "max" ? Number(limitText) : hostTotal;
    const inactive = statValue(readText("/sys/fs/cgroup/memory.stat"), "inactive_file");
    return limit ? round(((Number(v2Current) - inactive) / limit) * 100) : null;
  }
  const v1Usage = readText("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  if (v1Usage) {
    const v1Limit = Number(readText("/sys/fs/cgroup/memory/memory.limit_in_bytes") ?? "0");
    // An unlimited v1 cgroup reports a huge number instead of "max".
    const limit = v1Limit > 0 && (!hostTotal || v1Limit < hostTotal) ? v1Limit : hostTotal;
    const inactive = statValue(readText("/sys/fs/cgroup/memory/memory.stat"), "total_inactive_file");
    return limit ? round(((Number(v1Usage) - inactive) / limit) * 100) : null;
  }
  const available = meminfo("MemAvailable");
  return hostTotal && available !== null ? round(((hostTotal - available) / hostTotal) * 100) : null;
}

function meminfo(key: string): number | null {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(readText("/proc/meminfo") ?? "");
  return match ? Number(match[1]) * 1024 : null;
}

function statValue(text: string | null, key: string): number {
  const match = text ? new RegExp(`^${key} (\\d+)$`, "m").exec(text) : null;
  return match ? Number(match[1]) : 0;
}

/** psutil's disk percent: used / (used + available to unprivileged users). */
function diskPercent(path: string): number | null {
  const fs = statfsSync(path);
  const used = (fs.blocks - fs.bfree) * fs.bsize;
  const available = fs.bavail * fs.bsize;
  return used + available > 0 ? round((used / (used + available)) * 100) : null;
}

function networkBytes(): number | null {
  const text = readText("/proc/net/dev");
  if (!text) return null;
  let total = 0;
  for (const line of text.split("\n").slice(2)) {
    const [name, counters] = line.split(":");
    if (!counters || name.trim() === "lo") continue;
    const fields = counters.trim().split(/\s+/).map(Number);
    total += (fields[0] ?? 0) + (fields[8] ?? 0);
  }
  return total;
}
