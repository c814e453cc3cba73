/**
 * The trainer's side of the log file (ROCK's `ModelClient.anti_call_llm`): answer call k, receive call k+1.
 *
 * - index 0, no response: wait for the first request and return it;
 * - index k > 0 with a response: append response k, then wait for request k+1 and return it;
 * - answering k again is safe: a response already in the file for k is left as it is;
 * - whenever the session has ended (SESSION_END in the file), "SESSION_END" is returned instead of a request.
 *
 * Unlike ROCK, request k+1 is found wherever it is in the file (several agent calls may be in flight), waiting wakes
 * on file changes, and bad input (no such request, a response that is not JSON) fails before anything is written.
 */
import { appendRecord, responseLine } from "./log-records.ts";
import { LogTail, TimeoutError } from "./log-tail.ts";
import { SESSION_END } from "./markers.ts";

export class AntiCallError extends Error {
  override name = "AntiCallError";
}

export interface ModelClientOptions {
  pollIntervalMs?: number;
  /** Warnings that do not stop the call (malformed lines, a repeated answer). */
  warn?: (message: string) => void;
}

export interface AntiCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class ModelClient {
  private readonly tail: LogTail;

  constructor(
    readonly logFile: string,
    private readonly options: ModelClientOptions = {},
  ) {
    this.tail = new LogTail(logFile, {
      pollIntervalMs: options.pollIntervalMs ?? 100,
      onMalformed: (record) => options.warn?.(`${logFile}:${record.line}: skipped, ${record.reason}: ${preview(record.text)}`),
    }).start();
  }

  close(): void {
    this.tail.close();
  }

  /** Returns the next request's JSON text, or "SESSION_END". */
  async antiCallLlm(index: number, response?: string, options: AntiCallOptions = {}): Promise<string> {
    if (!Number.isInteger(index) || index < 0) throw new AntiCallError(`index must be a whole number from 0 (got ${index})`);
    if (index === 0 && response !== undefined) throw new AntiCallError("index 0 asks for the first request and takes no response");
    if (index > 0 && response === undefined) throw new AntiCallError(`index ${index} needs the response to call ${index} (--response or --response-file)`);
    if (response !== undefined) this.pushResponse(index, response);
    return this.popRequest(index + 1, options);
  }

  private pushResponse(index: number, response: string): void {
    let line: string;
    try {
      line = responseLine(response, index);
    } catch (error) {
      throw new AntiCallError(`the response to call ${index} is not JSON (${(error as Error).message}); nothing was written`);
    }
    this.tail.refresh();
    const state = this.tail.state;
    if (!state.requests.has(index)) {
      const range = state.highestRequestIndex ? `requests 1..${state.highestRequestIndex}` : "no requests yet";
      throw new AntiCallError(`index ${index} is out of range: ${this.logFile} has ${range}; nothing was written`);
    }
    if (state.responses.has(index)) {
      if (!sameJson(state.responses.get(index)!.json, response)) this.options.warn?.(`call ${index} was already answered; the earlier response stands`);
      return;
    }
    if (state.lastResponseIndex !== undefined && index < state.lastResponseIndex) {
      throw new AntiCallError(`index ${index} is behind the last response written (index ${state.lastResponseIndex}); nothing was written`);
    }
    appendRecord(this.logFile, line);
  }

  private async popRequest(index: number, options: AntiCallOptions): Promise<string> {
    try {
      return await this.tail.waitFor((state) => (state.sessionEnded ? SESSION_END : state.requests.get(index)?.json), options);
    } catch (error) {
      if (error instanceof TimeoutError) throw new AntiCallError(`no request ${index} in ${this.logFile} within ${options.timeoutMs} ms`);
      throw error;
    }
  }
}

function sameJson(a: string, b: string): boolean {
  try {
    return Bun.deepEquals(JSON.parse(a), JSON.parse(b));
  } catch {
    return a === b;
  }
}

function preview(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
