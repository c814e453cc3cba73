/**
 * Docker-style memory sizes ("512m", "8g", "1.5G", plain bytes) and ROCK's "%.2fg" display; the sandbox limits that
 * protect a shared host, derived from the machine the admin runs on.
 */
import { availableParallelism, totalmem } from "node:os";

const units: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes, or null when the text is not a size. */
export function parseMemory(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$/i.exec(text);
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * units[m[2].toLowerCase()]);
  return bytes > 0 ? bytes : null;
}

export const formatMemory = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)}g`;

export interface SandboxLimits {
  /** Asked for when a start names no `cpus` / `memory`. */
  defaultCpus: number;
  defaultMemoryBytes: number;
  /** The most a start may ask for. */
  maxCpus: number;
  maxMemoryBytes: number;
}

const MIB = 1024 ** 2;

/**
 * Defaults below the whole machine, so that one sandbox cannot starve the host: a start that names nothing gets
 * ROCK's 2 CPUs and 8g but at most half the cores and a quarter of the memory; a start may ask for up to all cores
 * and half the memory.
 */
export function hostLimits(cores = availableParallelism(), memoryBytes = totalmem()): SandboxLimits {
  const wholeMiB = (bytes: number) => Math.floor(bytes / MIB) * MIB;
  return {
    defaultCpus: Math.min(2, cores / 2),
    defaultMemoryBytes: Math.min(8 * 1024 ** 3, wholeMiB(memoryBytes / 4)),
    maxCpus: cores,
    maxMemoryBytes: wholeMiB(memoryBytes / 2),
  };
}
