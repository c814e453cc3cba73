import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { FileSink, Subprocess } from "bun";
import { statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import {
  type Process,
  type ProcessConfig,
  ProcessConfigSchema,
  type ProcessEvent,
  ProcessEventSchema,
  type ProcessSelector,
  type PTY_Size,
  Signal,
} from "../../../protocol/envd/process/process_pb.ts";
import { spawnAsOomVictim } from "../limits.ts";
import { userFromBasic } from "./user.ts";
import { CLOSED, EventQueue, IDLE, keepaliveMs } from "./event-queue.ts";

export interface ProcessTableOptions {
  /** The rocklet's environment without its secrets; a request's `envs` are merged over it. */
  baseEnv: () => Record<string, string>;
  /** Where a process runs when the request names no `cwd` (envd: the user's home). */
  defaultCwd: string;
  /** How far one stream's reader may fall behind the output before it is cut off. */
  maxQueuedBytes: number;
}

interface Running {
  pid: number;
  tag: string | undefined;
  config: ProcessConfig;
  child: Subprocess;
  stdin: FileSink | null;
  /** The process's terminal when it was started with a PTY (its output arrives as `pty` data events). */
  terminal: Bun.Terminal | null;
  readers: Set<EventQueue<ProcessEvent>>;
}

/** After the process exits, how long to keep reading pipes that a background grandchild still holds open. */
const PIPE_DRAIN_MS = 200;
/** A terminal's last output may still be in flight when its process exits. */
const PTY_DRAIN_MS = 50;
/**
 * How long a Start's start event may wait for the command's first output: a background command's handle (which the SDK
 * returns on the start event) comes at most this much later.
 */
const START_HOLD_MS = 5;

/**
 * envd's process service: every started process is kept by pid (and optional tag) until it ends, so that List,
 * Connect, SendInput and SendSignal reach it from other calls. A Start or Connect stream only watches: a client that
 * goes away leaves the process running (background commands); the call's deadline (`Connect-Timeout-Ms`, the SDK's
 * `timeoutMs`) kills it, as envd does.
 */
export class ProcessTable {
  private readonly running = new Map<number, Running>();

  constructor(private readonly options: ProcessTableOptions) {}

  readonly service: Partial<ServiceImpl<typeof Process>> = {
    start: (request, context) => this.start(request.process, request.tag, request.stdin ?? true, request.pty?.size, context),
    connect: (request, context) => {
      const process = this.find(request.process);
      return this.stream(process, this.subscribe(process), context);
    },
    list: () => ({
      processes: [...this.running.values()].map((p) => ({ pid: p.pid, tag: p.tag, config: p.config })),
    }),
    sendInput: async (request) => {
      const process = this.find(request.process);
      const input = request.input?.input;
      if (input?.case === "pty") {
        if (!process.terminal) throw new ConnectError(`process ${process.pid} has no PTY (send stdin)`, Code.FailedPrecondition);
        process.terminal.write(input.value);
        return {};
      }
      if (input?.case !== "stdin") throw new ConnectError("input: expected stdin or pty bytes", Code.InvalidArgument);
      if (!process.stdin) throw new ConnectError(`stdin of process ${process.pid} is not open (start it with stdin: true)`, Code.FailedPrecondition);
      process.stdin.write(input.value);
      await process.stdin.flush();
      return {};
    },
    update: (request) => {
      const process = this.find(request.process);
      const size = request.pty?.size;
      if (!process.terminal) throw new ConnectError(`process ${process.pid} has no PTY to resize`, Code.FailedPrecondition);
      if (!size || size.cols < 1 || size.rows < 1) throw new ConnectError("pty.size: expected cols and rows of at least 1", Code.InvalidArgument);
      process.terminal.resize(size.cols, size.rows);
      return {};
    },
    closeStdin: async (request) => {
      const process = this.find(request.process);
      if (process.stdin) {
        const stdin = process.stdin;
        process.stdin = null;
        await stdin.end();
      }
      return {};
    },
    sendSignal: (request) => {
      const process = this.find(request.process);
      if (request.signal !== Signal.SIGKILL && request.signal !== Signal.SIGTERM) {
        throw new ConnectError(`signal: expected SIGNAL_SIGTERM or SIGNAL_SIGKILL (got ${request.signal})`, Code.InvalidArgument);
      }
      signalGroup(process.pid, request.signal === Signal.SIGKILL ? "SIGKILL" : "SIGTERM");
      return {};
    },
  };

  /** Kills every process (the rocklet is stopping). */
  killAll(): void {
    for (const process of this.running.values()) signalGroup(process.pid, "SIGKILL");
  }

  private async *start(
    config: ProcessConfig | undefined,
    tag: string | undefined,
    stdin: boolean,
    pty: PTY_Size | undefined,
    context: HandlerContext,
  ): AsyncGenerator<{ event: ProcessEvent }> {
    if (!config || config.cmd === "") throw new ConnectError("process.cmd: required", Code.InvalidArgument);
    if (pty && (pty.cols < 1 || pty.rows < 1 || pty.cols > 10_000 || pty.rows > 10_000)) {
      throw new ConnectError(`pty.size: expected 1 to 10000 cols and rows (got ${pty.cols}x${pty.rows})`, Code.InvalidArgument);
    }
    const user = userFromBasic(context.requestHeader.get("authorization"));
    const home = user && isDirectory(user.home) ? user.home : user ? "/" : this.options.defaultCwd;
    const cwd = config.cwd ?? home;
    if (!isDirectory(cwd)) throw new ConnectError(`process.cwd: '${cwd}' is not a directory`, Code.InvalidArgument);
    if (tag !== undefined && [...this.running.values()].some((p) => p.tag === tag)) {
      throw new ConnectError(`tag: a running process already has the tag '${tag}'`, Code.AlreadyExists);
    }
    // A PTY's output arrives through the terminal's callback, possibly before the process is registered.
    let process: Running | null = null;
    const early: Uint8Array[] = [];
    const onPty = (data: Uint8Array) => {
      if (process) this.broadcast(process, event({ case: "data", value: { output: { case: "pty", value: data } } }));
      else early.push(data);
    };
    let child: Subprocess;
    try {
      const asUser = user ? { HOME: home, USER: user.name, LOGNAME: user.name } : {};
      const env = { ...this.options.baseEnv(), ...asUser, ...config.envs };
      const ids = user ? { uid: user.uid, gid: user.gid } : {};
      child = spawnAsOomVictim(() =>
        pty
          ? Bun.spawn([config.cmd, ...config.args], { cwd, env, ...ids, detached: true, terminal: { cols: pty.cols, rows: pty.rows, data: (_, data) => onPty(data) } })
          : Bun.spawn([config.cmd, ...config.args], { cwd, env, ...ids, stdin: stdin ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe", detached: true }),
      );
    } catch (error) {
      throw new ConnectError(`cannot start '${config.cmd}': ${(error as Error).message}`, Code.InvalidArgument);
    }
    process = {
      pid: child.pid,
      tag,
      config: create(ProcessConfigSchema, { cmd: config.cmd, args: config.args, envs: config.envs, cwd }),
      child,
      stdin: !pty && stdin ? (child.stdin as FileSink) : null,
      terminal: pty ? (child.terminal ?? null) : null,
      readers: new Set(),
    };
    this.running.set(process.pid, process);
    // The deadline of the starting call ends the process; other calls' deadlines only end their streams.
    const timeoutMs = context.timeoutMs();
    const deadline = timeoutMs === undefined ? null : setTimeout(() => signalGroup(process.pid, "SIGKILL"), timeoutMs);
    // Subscribed before the output is read, so that the stream misses nothing.
    const stream = this.stream(process, this.subscribe(process), context, START_HOLD_MS);
    for (const data of early.splice(0)) onPty(data);
    void this.pump(process).finally(() => deadline && clearTimeout(deadline));
    yield* stream;
  }

  private async pump(process: Running): Promise<void> {
    const forward = async (pipe: ReadableStream<Uint8Array>, output: "stdout" | "stderr") => {
      try {
        for await (const chunk of pipe) {
          this.broadcast(process, event({ case: "data", value: { output: { case: output, value: chunk } } }));
        }
      } catch {
        // A broken pipe ends the output.
      }
    };
    const { stdout, stderr } = process.child;
    const outputs = process.terminal
      ? Promise.resolve()
      : Promise.all([forward(stdout as ReadableStream<Uint8Array>, "stdout"), forward(stderr as ReadableStream<Uint8Array>, "stderr")]);
    await process.child.exited;
    await Promise.race([outputs, Bun.sleep(process.terminal ? PTY_DRAIN_MS : PIPE_DRAIN_MS)]);
    process.terminal?.close();
    this.running.delete(process.pid);
    this.broadcast(process, event({ case: "end", value: endOf(process.child) }));
    for (const reader of process.readers) reader.close();
  }

  /** The events of `process` from now on, after a start event naming it; keepalives fill the silences. */
  private subscribe(process: Running): EventQueue<ProcessEvent> {
    const queue = new EventQueue<ProcessEvent>(this.options.maxQueuedBytes, sizeOfEvent);
    process.readers.add(queue);
    return queue;
  }

  private async *stream(
    process: Running,
    queue: EventQueue<ProcessEvent>,
    context: HandlerContext,
    holdStartMs = 0,
  ): AsyncGenerator<{ event: ProcessEvent }> {
    const stop = () => queue.close();
    context.signal.addEventListener("abort", stop);
    try {
      // Held until the first output (or the end) for at most `holdStartMs`, the start event of a short command leaves
      // with its output in one write: one chunk less for the admin and the client to pass on and parse.
      const held = holdStartMs > 0 ? await queue.next(holdStartMs) : IDLE;
      yield { event: event({ case: "start", value: { pid: process.pid } }) };
      if (held !== IDLE && held !== CLOSED) yield { event: held };
      const idleMs = keepaliveMs(context.requestHeader);
      for (;;) {
        const next = await queue.next(idleMs);
        if (next === CLOSED) break;
        yield { event: next === IDLE ? event({ case: "keepalive", value: {} }) : next };
      }
      if (queue.closeReason) throw new ConnectError(queue.closeReason, Code.ResourceExhausted);
    } finally {
      context.signal.removeEventListener("abort", stop);
      process.readers.delete(queue);
    }
  }

  private broadcast(process: Running, message: ProcessEvent): void {
    for (const reader of process.readers) reader.push(message);
  }

  private find(selector: ProcessSelector | undefined): Running {
    const chosen = selector?.selector;
    if (chosen?.case === "pid") {
      const process = this.running.get(chosen.value);
      if (process) return process;
      throw new ConnectError(`process with pid ${chosen.value} not found`, Code.NotFound);
    }
    if (chosen?.case === "tag") {
      for (const process of this.running.values()) if (process.tag === chosen.value) return process;
      throw new ConnectError(`process with tag '${chosen.value}' not found`, Code.NotFound);
    }
    throw new ConnectError("process: expected a pid or a tag", Code.InvalidArgument);
  }
}

function event(value: MessageInitShape<typeof ProcessEventSchema>["event"]): ProcessEvent {
  return create(ProcessEventSchema, { event: value });
}

function sizeOfEvent(message: ProcessEvent): number {
  return message.event.case === "data" ? message.event.value.output.value?.length ?? 0 : 0;
}

/** Go's ProcessState: `exit status N`, or `signal: killed` with exit code -1. */
function endOf(child: Running["child"]) {
  if (child.exitCode !== null) return { exitCode: child.exitCode, exited: true, status: `exit status ${child.exitCode}` };
  const signal = (child.signalCode ?? "SIGKILL") as keyof typeof osConstants.signals;
  return { exitCode: -1, exited: false, status: `signal: ${SIGNAL_WORDS[signal] ?? signal}` };
}

const SIGNAL_WORDS: Record<string, string> = { SIGKILL: "killed", SIGTERM: "terminated", SIGINT: "interrupt", SIGHUP: "hangup" };

function signalGroup(pid: number, signal: "SIGKILL" | "SIGTERM"): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}


function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
