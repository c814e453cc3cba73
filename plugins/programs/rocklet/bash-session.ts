import type { Subprocess } from "bun";
import { stripAnsi } from "./ansi.ts";
import { checkBashSyntax } from "./bash-syntax.ts";
import { rockletErrors } from "./errors.ts";
import { spawnAsOomVictim, spawnError } from "./limits.ts";
import { killCommandChildren, secondsSinceBoot } from "./process-tree.ts";
import { newSentinel, type Sentinel, stripSentinels } from "./sentinel.ts";
import { SessionOutput, type WaitOutcome } from "./session-output.ts";
import { Utf8Decoder } from "./utf8-decoder.ts";

export interface BashSessionOptions {
  name: string;
  bashPath: string;
  env: Record<string, string>;
  /** Shell-quoted paths to `source` before the session is handed out. */
  startupSource: string[];
  startupTimeoutMs: number;
  user: { uid: number; gid: number } | null;
  maxOutputChars: number;
  onExit: () => void;
}

/** What one command produced; ROCK's check modes are applied on top of this (see observation.ts). */
export interface RunResult {
  output: string;
  exitCode: number | null;
  expectString: string;
  /** Set when the command did not complete normally (timeout, shell exit). */
  failureReason: string;
  /** Interactive replies carry no meaningful status and are never checked. */
  interactive: boolean;
}

export interface RunRequest {
  command: string;
  timeoutMs: number | null;
  expect: string[];
  interactive: boolean;
  /** Used in failure messages. */
  describe: () => string;
}

type State = "idle" | "running" | "interactive" | "closed";

/** Grace given to each resync attempt after a timed-out command was interrupted. */
const RESYNC_GRACE_MS = 1000;
/** How long a dead shell's pipe may stay open (held by background jobs) before its output is considered complete. */
const EXIT_DRAIN_MS = 50;
const CLOSE_GRACE_MS = 1000;

/**
 * A persistent interactive bash on pipes (no tty), in its own process group. Each command runs as
 * `{ <command>\n\n} </dev/null; <print end marker with $?>`: the brace group keeps cwd/env/functions/aliases in the
 * shell, and an interactive shell aborts the whole group (loops included) on SIGINT while surviving it itself.
 * Commands read /dev/null unless they are interactive (or wait for `expect` strings), in which case they read the
 * shell's stdin and later interactive calls write lines to it.
 */
export class BashSession {
  private state: State = "idle";
  /** Marker of the program started interactively and still running in the foreground. */
  private foregroundProgram: Sentinel | null = null;
  private exitStatus: number | null = null;
  /** When the current command started (seconds since boot), to tell its processes from older background jobs. */
  private commandStartedAt = 0;
  private readonly output: SessionOutput;

  private constructor(
    private readonly proc: Subprocess<"pipe", "pipe", "pipe">,
    private readonly options: BashSessionOptions,
  ) {
    this.output = new SessionOutput(options.maxOutputChars);
  }

  get name(): string {
    return this.options.name;
  }

  /** Spawns the shell and waits until startup files were sourced; returns the startup output. */
  static async start(options: BashSessionOptions): Promise<{ session: BashSession; output: string }> {
    let proc: Subprocess<"pipe", "pipe", "pipe">;
    try {
      proc = spawnAsOomVictim(() =>
        Bun.spawn([options.bashPath, "--norc", "--noprofile", "--noediting", "-i"], {
          stdin: "pipe",
          stdout: "pipe",
          stderr: "pipe",
          env: options.env,
          detached: true,
          ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
        }),
      );
    } catch (error) {
      throw spawnError(error, options.bashPath);
    }
    const session = new BashSession(proc, options);
    session.pump();
    const ready = newSentinel();
    const lines = ["exec 2>&1; set +H; set +o history; unset HISTFILE MAILCHECK"];
    for (const path of options.startupSource) lines.push(`source ${path}`);
    lines.push("unset PROMPT_COMMAND; PS1=''; PS2=''; PS0=''", ready.printStatement);
    session.write(`${lines.join("\n")}\n`);
    const outcome = await session.output.wait(ready, [], options.startupTimeoutMs);
    if (outcome.kind === "sentinel") return { session, output: clean(outcome.text) };
    const soFar = clean(session.output.takeAll());
    session.signalGroup("SIGKILL");
    if (outcome.kind === "timeout") {
      throw rockletErrors.sessionStartup(
        `session '${options.name}' did not start within ${options.startupTimeoutMs / 1000} s (startup_timeout); ` +
          `output so far: ${JSON.stringify(soFar)}`,
        soFar,
      );
    }
    throw rockletErrors.sessionStartup(
      `bash for session '${options.name}' exited during startup (status ${session.exitStatus}): ${JSON.stringify(soFar)}`,
      soFar,
    );
  }

  get isClosed(): boolean {
    return this.state === "closed";
  }

  async run(request: RunRequest): Promise<RunResult> {
    if (this.state === "closed") throw rockletErrors.sessionMissing(this.name);
    if (this.state === "running") throw rockletErrors.sessionBusy(this.name, "is busy running another command");
    if (this.state === "interactive") {
      if (!request.interactive) {
        throw rockletErrors.sessionBusy(
          this.name,
          "is running an interactive program; send input with is_interactive_command or end it with is_interactive_quit",
        );
      }
      return this.sendToForegroundProgram(request);
    }
    await checkBashSyntax(this.options.bashPath, request.command);
    if (this.state !== "idle") throw rockletErrors.sessionBusy(this.name, "is busy running another command");
    return this.runCommand(request);
  }

  /** Ends the shell like closing a terminal: SIGHUP to the group (nohup'ed jobs survive), SIGKILL if bash lingers. */
  async close(): Promise<void> {
    if (this.state === "closed" && this.exitStatus !== null) return;
    this.state = "closed";
    this.signalGroup("SIGHUP");
    const exited = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(CLOSE_GRACE_MS).then(() => false)]);
    if (!exited) {
      try {
        this.proc.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }

  private async runCommand(request: RunRequest): Promise<RunResult> {
    const sentinel = newSentinel();
    const body = isBlank(request.command) ? ":" : request.command;
    const attachStdin = request.interactive || request.expect.length > 0;
    this.state = "running";
    this.commandStartedAt = secondsSinceBoot();
    this.write(`{ ${body}\n\n}${attachStdin ? "" : " </dev/null"}; ${sentinel.printStatement}\n`);
    const outcome = await this.output.wait(sentinel, request.expect, request.timeoutMs);
    switch (outcome.kind) {
      case "sentinel":
        this.state = "idle";
        return result(clean(stripTrace(outcome.text, sentinel)), outcome.exitCode, request.interactive);
      case "expect":
        this.enterInteractive(sentinel);
        return { ...result(clean(outcome.text), 0, true), expectString: outcome.matched };
      case "closed":
        return this.shellExited(request);
      case "timeout":
        if (request.interactive) {
          this.enterInteractive(sentinel);
          return timedOut(clean(this.output.takeAll()), request, "the program keeps running in the session");
        }
        return this.interruptAfterTimeout(sentinel, request);
    }
  }

  private async sendToForegroundProgram(request: RunRequest): Promise<RunResult> {
    const program = this.foregroundProgram!;
    this.state = "running";
    this.write(`${request.command}\n`);
    const outcome: WaitOutcome = await this.output.wait(program, request.expect, request.timeoutMs);
    switch (outcome.kind) {
      case "sentinel":
        this.foregroundProgram = null;
        this.state = "idle";
        return result(clean(stripTrace(outcome.text, program)), outcome.exitCode, true);
      case "expect":
        this.state = "interactive";
        return { ...result(clean(outcome.text), 0, true), expectString: outcome.matched };
      case "closed":
        return this.shellExited(request);
      case "timeout":
        this.state = "interactive";
        return timedOut(clean(this.output.takeAll()), request, "the program keeps running in the session");
    }
  }

  /**
   * SIGINT to the group (the interactive shell survives it and abandons the command), then a fresh marker proves the
   * shell reads input again. If it does not come, the command's foreground processes are killed, then all processes
   * the command started, each time with a new marker; if the shell still does not answer, the session is terminated.
   */
  private async interruptAfterTimeout(original: Sentinel, request: RunRequest): Promise<RunResult> {
    const seen: Sentinel[] = [original];
    const shell = this.proc.pid;
    const since = this.commandStartedAt;
    const escalations = [
      () => this.signalGroup("SIGINT"),
      () => killCommandChildren(shell, since, true),
      () => killCommandChildren(shell, since, false),
    ];
    for (const escalate of escalations) {
      escalate();
      const fresh = newSentinel();
      this.write(`${fresh.printStatement}\n`);
      const outcome = await this.output.wait(fresh, [], RESYNC_GRACE_MS);
      if (outcome.kind === "sentinel") {
        this.state = "idle";
        const partial = stripTrace(stripSentinels(outcome.text, seen), fresh);
        return timedOut(clean(partial), request, "the command was interrupted; the session is usable");
      }
      seen.push(fresh);
      if (outcome.kind === "closed") break;
    }
    const partial = clean(stripSentinels(this.output.takeAll(), seen));
    this.signalGroup("SIGKILL");
    this.state = "closed";
    return timedOut(partial, request, `the command could not be interrupted, so session '${this.name}' was closed`);
  }

  private shellExited(request: RunRequest): RunResult {
    this.state = "closed";
    return {
      output: clean(this.output.takeAll()),
      exitCode: this.exitStatus,
      expectString: "",
      failureReason: `bash of session '${this.name}' exited with status ${this.exitStatus} while running ${request.describe()}; the session is closed`,
      interactive: request.interactive,
    };
  }

  private enterInteractive(program: Sentinel): void {
    this.foregroundProgram = program;
    this.state = "interactive";
  }

  private pump(): void {
    const decoder = new Utf8Decoder();
    let stdoutEnded: () => void = () => {};
    const stdoutDone = new Promise<void>((resolve) => (stdoutEnded = resolve));
    (async () => {
      try {
        for await (const chunk of this.proc.stdout) this.output.append(decoder.decode(chunk));
        this.output.append(decoder.decode(new Uint8Array(0), true));
      } catch {
        // The pipe broke; the exit handler below reports the session as closed.
      }
      stdoutEnded();
    })();
    (async () => {
      // Only bash's own startup warnings ("no job control") arrive here: everything after `exec 2>&1` is on stdout.
      for await (const _ of this.proc.stderr) void _;
    })().catch(() => undefined);
    this.proc.exited.then(async (status) => {
      this.exitStatus = status ?? -1;
      await Promise.race([stdoutDone, Bun.sleep(EXIT_DRAIN_MS)]);
      this.state = "closed";
      this.output.markClosed();
      this.options.onExit();
    });
  }

  private write(text: string): void {
    try {
      this.proc.stdin.write(text);
      this.proc.stdin.flush();
    } catch {
      // A dead shell surfaces through the exit handler.
    }
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.proc.pid, signal);
    } catch {
      // The group is gone.
    }
  }
}

function result(output: string, exitCode: number | null, interactive: boolean): RunResult {
  return { output, exitCode, expectString: "", failureReason: "", interactive };
}

function timedOut(output: string, request: RunRequest, consequence: string): RunResult {
  const seconds = (request.timeoutMs ?? 0) / 1000;
  return {
    output,
    exitCode: -1,
    expectString: "",
    failureReason: `timeout after ${formatSeconds(seconds)} seconds while running command ${request.describe()}; ${consequence}`,
    interactive: request.interactive,
  };
}

function formatSeconds(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}.0` : String(seconds);
}

function isBlank(command: string): boolean {
  return command.split("\n").every((line) => line.trim() === "" || line.trim().startsWith("#"));
}

/** Drops the `set -x` trace of the marker's print statement, which precedes the marker when xtrace is on. */
function stripTrace(text: string, sentinel: Sentinel): string {
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  const lastLineStart = body.lastIndexOf("\n") + 1;
  return body.slice(lastLineStart).includes(sentinel.traceHint) ? body.slice(0, lastLineStart) : text;
}

/** Interactive bash without a terminal complains when a foreground job dies by a signal; that is not output. */
const TERMINAL_NOISE = /^bash: \[\d+: \d+ \(\d+\)\] tcsetattr: Inappropriate ioctl for device\n?/gm;

/** Like ROCK's `.strip()` of the output, but only line breaks: indentation of the first line is kept. */
function clean(text: string): string {
  return stripAnsi(text).replace(TERMINAL_NOISE, "").replace(/^[\r\n]+|[\r\n]+$/g, "");
}
