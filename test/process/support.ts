/**
 * A copy of this checkout as a user gets it (no node_modules, nothing built), installed with npm, and the
 * README's commands started in it. /proc answers what is left of a process tree afterwards.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../support/project.ts";

/**
 * Copies the checkout into a temp dir outside it (so nothing resolves from this checkout's node_modules) and runs
 * `npm ci` there with `npmArgs`.
 */
export async function freshCopy(npmArgs: string[]): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "rock-fresh-"));
  // What .gitignore leaves out, so the copy is what a clone holds.
  const skipped = new Set(["node_modules", ".git", "data", "dist", ".rock", "test/.tmp", "test/.env"].map((p) => join(repoRoot, p)));
  cpSync(repoRoot, root, { recursive: true, filter: (path) => !skipped.has(path) && !path.endsWith(".log") });
  const npm = Bun.spawn(["npm", "ci", "--no-audit", "--no-fund", ...npmArgs], { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(npm.stdout).text(), new Response(npm.stderr).text(), npm.exited]);
  if (code !== 0) throw new Error(`npm ci in ${root} exited ${code}:\n${out}\n${err}`);
  return root;
}

/** The command of the README line that starts with `prefix` (text up to a `#` comment), split on spaces. */
export function readmeCommand(prefix: RegExp): string[] {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  for (const line of readme.split("\n")) {
    const m = prefix.exec(line);
    if (m) return line.slice(m[0].length).replace(/\s+#.*$/, "").trim().split(/\s+/);
  }
  throw new Error(`README.md has no line matching ${prefix}`);
}

export interface Started {
  child: ReturnType<typeof Bun.spawn>;
  pid: number;
  output(): string;
  exited: Promise<number>;
}

/** Starts `argv` in `cwd` with exactly `env`, collecting stdout and stderr together. */
export function start(argv: string[], cwd: string, env: Record<string, string>): Started {
  const child = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let text = "";
  for (const stream of [child.stdout, child.stderr] as ReadableStream<Uint8Array>[]) {
    (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    })();
  }
  return { child, pid: child.pid, output: () => text, exited: child.exited };
}

/** PATH without any node_modules/.bin, HOME and the locale: what a user's shell passes on a fresh machine. */
export function userEnv(extra: Record<string, string>): Record<string, string> {
  const path = (process.env.PATH ?? "/usr/bin:/bin").split(":").filter((dir) => !dir.includes("node_modules")).join(":");
  const env: Record<string, string> = { PATH: path, HOME: process.env.HOME ?? "/root" };
  for (const name of ["LANG", "TZ", "TMPDIR"]) if (process.env[name]) env[name] = process.env[name]!;
  return { ...env, ...extra };
}

/**
 * The parent of a live process; undefined when it is gone or a zombie. A zombie has exited: its parent died before
 * reaping it, and it stays in /proc until init does (this machine's PID 1 takes its time).
 */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return state === "Z" || state === "X" ? undefined : Number(parent);
  } catch {
    return undefined; // gone meanwhile
  }
}

function allPids(): number[] {
  return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number);
}

/** `pid` and all its live descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const parent = parentOf(p);
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), p]);
  }
  const tree: number[] = [];
  const visit = (p: number) => {
    if (tree.includes(p)) return;
    tree.push(p);
    for (const child of children.get(p) ?? []) visit(child);
  };
  if (parentOf(pid) !== undefined) visit(pid);
  return tree;
}

/** "pid: cmdline" of every live process whose command line, working directory or executable names `dir`. */
export function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    if (parentOf(pid) === undefined) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      const where = [cmdline, readlinkSync(`/proc/${pid}/cwd`), readlinkSync(`/proc/${pid}/exe`)];
      if (where.some((text) => text.includes(dir))) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile, or a kernel thread without cwd/exe
    }
  }
  return found;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/** Resident set size in KiB (VmRSS), 0 when the process is gone. */
export function rssKiB(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** True when nothing listens on 127.0.0.1:`port` (a listener can bind it). */
export function portFree(port: number): boolean {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

export function removeCopy(root: string) {
  rmSync(root, { recursive: true, force: true });
}
