import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { BashSession } from "./bash-session.ts";
import { rockletErrors } from "./errors.ts";
import { type BashObservation, toObservation } from "./observation.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";
import type { BashAction, CreateSessionRequest } from "./requests.ts";
import { shellQuote } from "./shell-quote.ts";
import { resolveRemoteUser, type SystemUser } from "./users.ts";

/** PATH for sessions created without `env_enable` (ROCK passes an empty environment and bash's built-in PATH). */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface SessionRegistryConfig {
  bashPath: string;
  maxOutputChars: number;
  maxSessions: number;
  /** The environment a session with `env_enable` inherits (the rocklet's own, minus its secrets). */
  inheritedEnv: () => Record<string, string>;
}

/** Named bash sessions, as ROCK keeps them: create once, run many times, close. */
export class SessionRegistry {
  private readonly sessions = new Map<string, BashSession | "starting">();

  constructor(private readonly config: SessionRegistryConfig) {}

  async create(request: CreateSessionRequest): Promise<{ output: string; session_type: "bash" }> {
    const name = request.session;
    if (this.sessions.has(name)) throw rockletErrors.sessionExists(name);
    if (this.sessions.size >= this.config.maxSessions) throw rockletErrors.sessionLimit(name, this.config.maxSessions);
    this.sessions.set(name, "starting");
    let started: BashSession | null = null;
    try {
      const user = resolveRemoteUser(request.remoteUser);
      const env = this.sessionEnv(request, user);
      const { session, output } = await BashSession.start({
        name,
        bashPath: this.config.bashPath,
        env,
        startupSource: request.startupSource.map((path) => shellQuote(readableStartupFile(path, env.HOME))),
        startupTimeoutMs: request.startupTimeout * 1000,
        user: user ? { uid: user.uid, gid: user.gid } : null,
        maxOutputChars: this.config.maxOutputChars,
        onExit: () => {
          if (started && this.sessions.get(name) === started) this.sessions.delete(name);
        },
      });
      started = session;
      if (session.isClosed) throw rockletErrors.sessionStartup(`bash for session '${name}' exited right after startup`);
      this.sessions.set(name, session);
      return { output, session_type: "bash" };
    } catch (error) {
      if (this.sessions.get(name) === "starting") this.sessions.delete(name);
      throw error;
    }
  }

  async run(action: BashAction): Promise<BashObservation> {
    const session = this.sessions.get(action.session);
    if (!session || session === "starting" || session.isClosed) throw rockletErrors.sessionMissing(action.session);
    const run = await session.run({
      command: action.command,
      timeoutMs: action.timeout === null ? null : action.timeout * 1000,
      expect: action.expect,
      interactive: action.isInteractiveCommand || action.isInteractiveQuit,
      describe: () => pythonRepr(action.command),
    });
    if (session.isClosed && this.sessions.get(action.session) === session) this.sessions.delete(action.session);
    return toObservation(action, run);
  }

  async close(name: string): Promise<{ session_type: "bash" }> {
    const session = this.sessions.get(name);
    if (!session || session === "starting") throw rockletErrors.sessionMissing(name);
    this.sessions.delete(name);
    await session.close();
    return { session_type: "bash" };
  }

  async closeAll(): Promise<void> {
    const open = [...this.sessions.values()].filter((session): session is BashSession => session !== "starting");
    this.sessions.clear();
    await Promise.all(open.map((session) => session.close()));
  }

  private sessionEnv(request: CreateSessionRequest, user: SystemUser | null): Record<string, string> {
    const env: Record<string, string> = request.envEnable ? this.config.inheritedEnv() : { PATH: DEFAULT_PATH };
    if (user) Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name });
    Object.assign(env, { PS1: "", PS2: "", PS0: "" }, request.env ?? {});
    return env;
  }
}

/**
 * Resolves a `startup_source` entry (`~/` expands to the session's HOME) and insists that it is readable: ROCK would
 * hand out a session whose startup silently failed.
 */
function readableStartupFile(path: string, home: string | undefined): string {
  const expanded = path === "~" || path.startsWith("~/") ? (home ?? homedir()) + path.slice(1) : path;
  const absolute = resolve(expanded);
  try {
    accessSync(absolute, constants.R_OK);
  } catch {
    throw rockletErrors.sessionStartup(`startup_source file ${pythonRepr(path)} does not exist or is not readable`);
  }
  return absolute;
}
