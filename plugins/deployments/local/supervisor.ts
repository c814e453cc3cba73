/**
 * The first process of a local sandbox: `bun supervisor.ts --log FILE --grace-ms N [--isolated] -- <rocklet command>`.
 * It runs the rocklet as its child and, being a child subreaper, adopts every orphan the sandbox leaves behind.
 * Whatever ends it (SIGTERM from the deployment, or the rocklet exiting) it first ends every process below it:
 * SIGTERM, a grace period, then SIGSTOP + SIGKILL until none is left. Its process group is the sandbox's handle.
 * With --isolated the command is bubblewrap running the rocklet: bubblewrap and its init (PID 1 of the sandbox) are
 * spared the SIGTERM, since they end the whole sandbox at once when they go; they end when the rocklet does.
 */
import { fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { descendantsOf, isLive, processTable, sendSignal, type ProcessEntry } from "./process-table.ts";
import { becomeSubreaper, reap } from "./subreaper.ts";

interface SupervisorOptions {
  log: string;
  graceMs: number;
  isolated: boolean;
  command: string[];
}

function parseArguments(argv: string[]): SupervisorOptions {
  const separator = argv.indexOf("--");
  const flags = argv.slice(0, separator);
  const value = (flag: string) => {
    const at = flags.indexOf(flag);
    if (at < 0 || at + 1 >= flags.length) throw new Error(`supervisor: missing ${flag}`);
    return flags[at + 1];
  };
  const command = argv.slice(separator + 1);
  if (separator < 0 || command.length === 0) throw new Error("supervisor: usage: --log FILE --grace-ms N -- COMMAND...");
  return { log: value("--log"), graceMs: Number(value("--grace-ms")), isolated: flags.includes("--isolated"), command };
}

const options = parseArguments(process.argv.slice(2));
const logFd = openSync(options.log, "a");
const note = (message: string) => writeSync(logFd, `[supervisor] ${message}\n`);

if (!becomeSubreaper()) note("warning: cannot become a child subreaper; processes that leave the sandbox's process group may survive it");

const launch = () => Bun.spawn(options.command, { stdin: "ignore", stdout: logFd, stderr: logFd, env: process.env });
const firstOffset = fstatSync(logFd).size;
let rocklet = launch();

/**
 * bubblewrap binds the host recursively, then remounts every mount below it read-only: a mount that goes away in
 * between (a container the engine removes) fails the whole setup (ENOENT or EINVAL; 1 start in 5 under heavy mount
 * churn, 1 in 30 under moderate churn). Such a start is tried again; any other failure stands.
 */
const vanishedMount = /^bwrap: Can't bind mount .*remount .*(No such file or directory|Invalid argument)/m;
const SETUP_ATTEMPTS = 10;

/** What the log gained since `offset` (the log is opened for appending only, so it is read by its path). */
function logSince(offset: number): string {
  try {
    return readFileSync(options.log).subarray(offset, offset + 64 * 1024).toString("utf8");
  } catch {
    return "";
  }
}

const liveBelow = () => descendantsOf(process.pid, processTable()).filter((p) => isLive(p) && p.pid !== process.pid);
const isLauncher = (p: ProcessEntry) => options.isolated && (p.pid === rocklet.pid || p.parent === rocklet.pid);

function reapAdopted(): void {
  for (const entry of processTable()) {
    if (entry.parent === process.pid && entry.state === "Z" && entry.pid !== rocklet.pid) reap(entry.pid);
  }
}
const reaper = setInterval(reapAdopted, 1000);

let ending = false;
async function end(exitCode: number): Promise<void> {
  if (ending) return;
  ending = true;
  clearInterval(reaper);
  for (const p of liveBelow()) if (!isLauncher(p)) sendSignal(p.pid, "SIGTERM");
  const deadline = Date.now() + options.graceMs;
  while (Date.now() < deadline && liveBelow().length > 0) {
    reapAdopted();
    await Bun.sleep(20);
  }
  // Stopped first so that nothing can fork a replacement between one kill and the next.
  for (let round = 0; round < 100; round++) {
    const survivors = liveBelow();
    if (survivors.length === 0) break;
    for (const p of survivors) sendSignal(p.pid, "SIGSTOP");
    for (const p of survivors) sendSignal(p.pid, "SIGKILL");
    reapAdopted();
    await Bun.sleep(10);
  }
  // Dead by now, maybe not yet reaped: let the note on how it exited reach the log first.
  await Promise.race([rocklet.exited, Bun.sleep(1000)]);
  reapAdopted();
  process.exit(exitCode);
}

for (const name of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(name, () => void end(0));
async function watch(attempt: number, logOffset: number): Promise<void> {
  const code = await rocklet.exited;
  if (options.isolated && code !== 0 && !ending && attempt < SETUP_ATTEMPTS && vanishedMount.test(logSince(logOffset))) {
    note(`bubblewrap's setup met a mount that went away meanwhile; starting it again (attempt ${attempt + 1} of ${SETUP_ATTEMPTS})`);
    await Bun.sleep(10 * attempt);
    const offset = fstatSync(logFd).size;
    rocklet = launch();
    return watch(attempt + 1, offset);
  }
  note(`rocklet exited (${code ?? rocklet.signalCode})`);
  void end(code ?? 1);
}
void watch(1, firstOffset);
