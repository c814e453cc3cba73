/** What the log file says so far: requests and responses by index, whether the session has ended, what was malformed. */
import type { Exchange, LogRecord } from "./log-parser.ts";

const MAX_MALFORMED_KEPT = 100;

export class LogState {
  readonly requests = new Map<number, Exchange>();
  /** The first response written for an index wins, as in ROCK, where the service scans from the top. */
  readonly responses = new Map<number, Exchange>();
  /** Index of the response record that comes last in the file (ROCK compares a new response with it). */
  lastResponseIndex: number | undefined;
  highestRequestIndex = 0;
  sessionEnded = false;
  readonly malformed: Extract<LogRecord, { kind: "malformed" }>[] = [];
  malformedCount = 0;

  apply(record: LogRecord): void {
    switch (record.kind) {
      case "request":
        if (!this.requests.has(record.index)) this.requests.set(record.index, record);
        this.highestRequestIndex = Math.max(this.highestRequestIndex, record.index);
        break;
      case "response":
        if (!this.responses.has(record.index)) this.responses.set(record.index, record);
        this.lastResponseIndex = record.index;
        break;
      case "session-end":
        this.sessionEnded = true;
        break;
      case "malformed":
        this.malformedCount++;
        if (this.malformed.length < MAX_MALFORMED_KEPT) this.malformed.push(record);
        break;
    }
  }
}
