/**
 * The pid file of a running service (`<log dir>/model-service.pid` unless set), created exclusively by the service
 * itself once it listens, so that two services can never share a log file. A file naming a dead process is stale
 * and is replaced.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CommandError } from "./errors.ts";
import { isAlive } from "./process-alive.ts";

export function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the live service this file names, if any; a stale file is removed. */
export function runningPid(path: string): number | undefined {
  const pid = readPid(path);
  if (pid !== undefined && isAlive(pid)) return pid;
  removeQuietly(path);
  return undefined;
}

export function claimPidFile(path: string, pid = process.pid): void {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${pid}\n`, { flag: "wx" });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const other = runningPid(path);
      if (other !== undefined) throw new CommandError(`a model service is already running (pid ${other}, pid file ${path}); stop it first with 'model-service stop'`);
    }
  }
  throw new CommandError(`cannot claim the pid file ${path}`);
}

/** Removes the file only if it still names `pid`. */
export function releasePidFile(path: string, pid = process.pid): void {
  if (readPid(path) === pid) removeQuietly(path);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
