/**
 * Local mode: the agent's chat completion is written to the log file as request k, and the HTTP call waits for
 * response k, written by the trainer (`anti-call-llm`). Several calls may be in flight; each waits for its own index.
 * The file is only ever appended to: a log left by an earlier run is renamed aside, never truncated.
 */
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { AgentWatch } from "./agent-watch.ts";
import { completionChunks, sseBody, wantsUsage } from "./chat-stream.ts";
import { errorReply, json, SSE_HEADERS } from "./http-replies.ts";
import { appendRecord, requestLine, sessionEndLine, trajectoryLine } from "./log-records.ts";
import { LogTail, TimeoutError } from "./log-tail.ts";
import type { Exchange } from "./log-parser.ts";
import type { ServiceLog } from "./service-log.ts";
import type { ServiceSettings } from "./settings.ts";

/** ROCK's message when the session ends before the trainer answered. */
const NO_RESPONSE = "No response received from Roll process";

export class LocalBridge {
  private readonly tail: LogTail;
  private readonly agents: AgentWatch;
  private nextIndex = 1;
  /** Aborted at shutdown: every waiting call answers 503 at once instead of holding the stop. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly settings: ServiceSettings,
    private readonly log: ServiceLog,
  ) {
    this.tail = new LogTail(settings.logFile, {
      pollIntervalMs: settings.pollIntervalMs,
      onMalformed: (record) => log("skipped a malformed record", { file: settings.logFile, line: record.line, reason: record.reason }),
    });
    this.agents = new AgentWatch(settings.agentCheckIntervalMs, (pid) => {
      log("agent process exited, ending the session", { pid });
      this.endSession();
    });
  }

  start(): void {
    const file = this.settings.logFile;
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file) && statSync(file).size > 0) {
      const aside = `${file}.${Date.now()}`;
      renameSync(file, aside);
      this.log("kept the previous log", { moved_to: aside });
    }
    writeFileSync(file, "", { flag: "a" });
    mkdirSync(dirname(this.settings.trajFile), { recursive: true });
    this.tail.start();
  }

  close(): void {
    this.stopping.abort();
    this.agents.close();
    this.tail.close();
  }

  async chat(request: Request): Promise<Response> {
    const text = await request.text();
    let body: unknown;
    let line: string;
    const index = this.nextIndex;
    try {
      body = JSON.parse(text);
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SyntaxError("expected a JSON object");
      line = requestLine(text, index);
    } catch (error) {
      return errorReply(400, `the request body is not a JSON object: ${(error as Error).message}`, "invalid_request_error");
    }
    this.tail.refresh();
    if (this.tail.state.sessionEnded) return errorReply(500, `${NO_RESPONSE}: the session has ended (SESSION_END)`, "session_ended");
    this.nextIndex++;
    appendRecord(this.settings.logFile, line);

    let answer: Exchange | "session-ended";
    try {
      answer = await this.tail.waitFor((state) => state.responses.get(index) ?? (state.sessionEnded ? "session-ended" : undefined), {
        timeoutMs: this.settings.requestTimeoutMs,
        signal: AbortSignal.any([request.signal, this.stopping.signal]),
      });
    } catch (error) {
      if (error instanceof TimeoutError) {
        const seconds = this.settings.requestTimeoutMs! / 1000;
        return errorReply(504, `no response to call ${index} from the trainer within ${seconds} s (REQUEST_TIMEOUT)`, "timeout");
      }
      if (this.stopping.signal.aborted) return errorReply(503, `the model service is stopping; call ${index} was not answered`, "service_stopping");
      return errorReply(499, `call ${index} was cancelled by the client`, "client_closed_request");
    }
    if (answer === "session-ended") return errorReply(500, `${NO_RESPONSE}: the session ended before call ${index} was answered`, "session_ended");
    return this.reply(answer, text, body as Record<string, unknown>);
  }

  private reply(answer: Exchange, requestText: string, request: Record<string, unknown>): Response {
    let completion: unknown;
    try {
      completion = JSON.parse(answer.json);
    } catch {
      return errorReply(502, `the trainer's response to call ${answer.index} (log line ${answer.line}) is not JSON`, "bad_response");
    }
    this.recordTrajectory(requestText, answer);
    if (request.stream === true) return new Response(sseBody(completionChunks(completion, wantsUsage(request))), { headers: SSE_HEADERS });
    return new Response(answer.json, { headers: { "content-type": "application/json" } });
  }

  /** ROCK's record_traj: only answered calls, written before the answer leaves; a failed write does not fail the call. */
  private recordTrajectory(requestText: string, answer: Exchange): void {
    const { trajFile, trajAppend } = this.settings;
    try {
      writeFileSync(trajFile, trajectoryLine(requestText, answer.json), { flag: trajAppend ? "a" : "w" });
    } catch (error) {
      this.log("could not write the trajectory", { file: trajFile, call: answer.index, error: (error as Error).message });
    }
  }

  async watchAgent(request: Request): Promise<Response> {
    const body = (await request.json().catch(() => undefined)) as { pid?: unknown } | undefined;
    const pid = Number(body?.pid);
    if (body?.pid === undefined || !Number.isInteger(pid) || pid <= 0) return errorReply(400, "pid is required: a positive integer", "invalid_request_error");
    this.agents.watch(pid);
    this.log("watching agent process", { pid });
    return json({ status: "watching", pid });
  }

  endSession(): void {
    this.tail.refresh();
    if (this.tail.state.sessionEnded) return;
    appendRecord(this.settings.logFile, sessionEndLine);
    this.tail.refresh();
  }
}
