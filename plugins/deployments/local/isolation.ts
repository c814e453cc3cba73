/**
 * How a local sandbox is confined. With bubblewrap each sandbox gets its own mount, PID, IPC, UTS and cgroup
 * namespaces: the host read-only, the server's files and every other sandbox hidden, a private /tmp, no capabilities,
 * and either an unprivileged uid or a user namespace of its own. It shares the host's network, so that the admin
 * reaches its rocklet on a loopback port.
 */
import { realpathSync, statSync } from "node:fs";
import { dirname, sep } from "node:path";

export type Isolation = "bubblewrap" | "none";

export interface SandboxView {
  /** The sandbox's own directory: the only host path it may write. */
  workDir: string;
  /** Host directories covered by an empty read-only tmpfs, files by /dev/null (server files, sockets, secrets). */
  hide: string[];
  /** Host paths shown again, read-only, inside hidden directories (the rocklet, the Bun that runs it). */
  expose: string[];
  /** Size of each private /tmp, /var/tmp and /dev/shm, in bytes. */
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
  /** --perms for tmpfs and dirs (a world-writable /tmp, mount points others may cross). */
  perms: boolean;
  /** --disable-userns (0.8): no nested user namespaces inside the sandbox. */
  disableUserns: boolean;
}

export function bwrapFeatures(help: string): BwrapFeatures {
  return { size: help.includes("--size"), perms: help.includes("--perms"), disableUserns: help.includes("--disable-userns") };
}

/**
 * Who the sandbox's processes are. Null: the server's user, in a user namespace of their own. Given: a root server
 * starts bubblewrap as root and `setpriv` drops the rocklet to this uid and gid, since root without capabilities
 * would still own (and read) every root-owned file of the read-only host.
 */
export interface RunAs {
  uid: number;
  setpriv: string;
}

/** Private, writable by all (sticky), empty on every start. */
const PRIVATE_TMP = ["/tmp", "/var/tmp", "/dev/shm"];

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === sep ? dir : dir + sep);
}

/** The directories strictly between `root` and `path`, outermost first. */
function between(root: string, path: string): string[] {
  const out: string[] = [];
  for (let dir = dirname(path); dir !== root && inside(dir, root); dir = dirname(dir)) out.unshift(dir);
  return out;
}

/** `bwrap` arguments that run `command` in the sandbox's view of the host; it starts in the work dir. */
export function bwrapCommand(bwrap: string, features: BwrapFeatures, view: SandboxView, kind: PathKind, command: string[], runAs: RunAs | null = null): string[] {
  const args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];
  const perms = (mode: string) => (features.perms ? ["--perms", mode] : []);
  for (const dir of PRIVATE_TMP) {
    if (dir === "/dev/shm" || kind(dir) === "dir") args.push(...perms("1777"), ...(features.size ? ["--size", String(view.tmpBytes)] : []), "--tmpfs", dir);
  }

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
  const shown = [...view.expose.filter((path) => kind(path) !== null), view.workDir];
  // Mount points bubblewrap would create for them are root's alone (0700): make them crossable by the sandbox's uid.
  const made = new Set<string>();
  for (const path of shown) {
    const root = [...hidden, ...PRIVATE_TMP].find((h) => inside(path, h) && path !== h);
    for (const dir of root ? between(root, path) : []) {
      if (!made.has(dir)) args.push(...perms("0755"), "--dir", dir);
      made.add(dir);
    }
  }
  for (const path of shown.slice(0, -1)) args.push("--ro-bind", path, path);
  args.push("--bind", view.workDir, view.workDir);
  // Read-only last: bubblewrap had to create the mount points of the paths shown again inside them.
  for (const dir of hidden) if (kind(dir) === "dir") args.push("--remount-ro", dir);

  args.push("--chdir", view.workDir);
  if (runAs) args.push("--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP");
  else args.push("--unshare-user", ...(features.disableUserns ? ["--disable-userns"] : []), "--cap-drop", "ALL");
  args.push(
    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    // Dies with the supervisor; its own session keeps it off any terminal (no TIOCSTI).
    "--die-with-parent", "--new-session",
    "--",
  );
  if (runAs) {
    const id = String(runAs.uid);
    args.push(runAs.setpriv, `--reuid=${id}`, `--regid=${id}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--");
  }
  args.push(...command);
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
