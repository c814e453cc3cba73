/**
 * How a local sandbox is confined. With bubblewrap each sandbox gets its own mount, PID, IPC, UTS, cgroup and user
 * namespaces: the host read-only, the server's files and every other sandbox hidden, a private /tmp, no capabilities.
 * It shares the host's network, so that the admin reaches its rocklet on a loopback port.
 */
import { realpathSync, statSync } from "node:fs";
import { sep } from "node:path";

export type Isolation = "bubblewrap" | "none";

export interface SandboxView {
  /** The sandbox's own directory: the only host path it may write. */
  workDir: string;
  /** Host directories covered by an empty read-only tmpfs, files by /dev/null (server files, sockets, secrets). */
  hide: string[];
  /** Host paths shown again, read-only, inside hidden directories (the rocklet, the Bun that runs it). */
  expose: string[];
  /** Size of the private /tmp and /var/tmp, in bytes. */
  tmpBytes: number;
}

/** What a host path is, to pick how to hide it; null when it does not exist (nothing to hide). */
export type PathKind = (path: string) => "dir" | "other" | null;

export const pathKind: PathKind = (path) => {
  try {
    return statSync(path).isDirectory() ? "dir" : "other";
  } catch {
    return null;
  }
};

/** The path with its symlinks resolved, or null when it does not exist. */
export function realPath(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** Options that older bubblewraps lack (Ubuntu 22.04 ships 0.6): used when `bwrap --help` lists them. */
export interface BwrapFeatures {
  /** --size for tmpfs (caps the private /tmp). */
  size: boolean;
  /** --disable-userns (0.8): no nested user namespaces inside the sandbox. */
  disableUserns: boolean;
}

export function bwrapFeatures(help: string): BwrapFeatures {
  return { size: help.includes("--size"), disableUserns: help.includes("--disable-userns") };
}

/** Private, writable, empty on every start. */
const PRIVATE_TMP = ["/tmp", "/var/tmp"];

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === sep ? dir : dir + sep);
}

/** `bwrap` arguments that run `command` in the sandbox's view of the host; it starts in the work dir. */
export function bwrapCommand(bwrap: string, features: BwrapFeatures, view: SandboxView, kind: PathKind, command: string[]): string[] {
  const args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];
  for (const dir of PRIVATE_TMP) if (kind(dir) === "dir") args.push(...(features.size ? ["--size", String(view.tmpBytes)] : []), "--tmpfs", dir);

  // Parents before children, and nothing twice: a directory inside a hidden one is hidden already.
  const hidden: string[] = [];
  for (const path of [...new Set(view.hide)].sort((a, b) => a.length - b.length)) {
    if (path === sep || hidden.some((h) => inside(path, h)) || PRIVATE_TMP.some((t) => inside(path, t))) continue;
    const what = kind(path);
    if (what === "dir") args.push("--tmpfs", path);
    else if (what === "other") args.push("--ro-bind", "/dev/null", path);
    else continue;
    hidden.push(path);
  }
  for (const path of view.expose) if (kind(path) !== null) args.push("--ro-bind", path, path);
  args.push("--bind", view.workDir, view.workDir);
  // Read-only last: bubblewrap had to create the mount points of the paths shown again inside them.
  for (const dir of hidden) if (kind(dir) === "dir") args.push("--remount-ro", dir);

  args.push(
    "--chdir", view.workDir,
    "--unshare-user", ...(features.disableUserns ? ["--disable-userns"] : []),
    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    "--cap-drop", "ALL",
    // Dies with the supervisor; its own session keeps it off any terminal (no TIOCSTI).
    "--die-with-parent", "--new-session",
    "--", ...command,
  );
  return args;
}

/** Where `path` really is, when a symlink leads into a hidden directory (e.g. /etc/resolv.conf → /run/…). */
export function targetsInside(paths: string[], hide: string[], realpath: (p: string) => string | null): string[] {
  const out: string[] = [];
  for (const path of paths) {
    const real = realpath(path);
    if (real && real !== path && hide.some((h) => inside(real, h))) out.push(real);
  }
  return out;
}
