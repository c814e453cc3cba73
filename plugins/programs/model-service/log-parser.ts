/**
 * Turns the log file's text, fed in arbitrary chunks, into records. A record normally fills one line; a response
 * written by another tool may span lines (pretty-printed JSON), so a record that has opened but not yet closed
 * takes the following lines until one carries its end marker and metadata. Text after the last newline is kept
 * until the newline arrives, so a record being written is never read half way. Lines that are no record are
 * reported as malformed and skipped; they never stop the parser.
 */
import { REQUEST_END, REQUEST_START, RESPONSE_END, RESPONSE_START, SESSION_END } from "./markers.ts";

export interface Exchange {
  kind: "request" | "response";
  index: number;
  timestamp?: number;
  /** The JSON text between the markers, as written. */
  json: string;
  /** 1-based line where the record starts. */
  line: number;
}

export type LogRecord = Exchange | { kind: "session-end"; line: number } | { kind: "malformed"; line: number; text: string; reason: string };

const kinds = [
  { kind: "request", start: REQUEST_START, end: REQUEST_END },
  { kind: "response", start: RESPONSE_START, end: RESPONSE_END },
] as const;

/** A record that opened on an earlier line and has not closed yet. */
interface OpenRecord {
  text: string;
  line: number;
}

/** Gives up on a record that has not closed after this many lines (a stray start marker must not swallow the log). */
const MAX_RECORD_LINES = 10_000;

export class LogParser {
  private buffer = "";
  private lineNumber = 0;
  private open: OpenRecord | undefined;

  feed(chunk: string): LogRecord[] {
    this.buffer += chunk;
    const out: LogRecord[] = [];
    let newline = this.buffer.indexOf("\n");
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, "");
      this.buffer = this.buffer.slice(newline + 1);
      this.lineNumber++;
      this.take(line, out);
      newline = this.buffer.indexOf("\n");
    }
    return out;
  }

  private take(line: string, out: LogRecord[]): void {
    const opensRecord = line.includes(REQUEST_START) || line.includes(RESPONSE_START);
    const endsSession = !opensRecord && line.includes(SESSION_END);
    if (this.open && (opensRecord || endsSession || this.lineNumber - this.open.line >= MAX_RECORD_LINES)) {
      out.push({ kind: "malformed", line: this.open.line, text: this.open.text, reason: "record never closed" });
      this.open = undefined;
    }
    if (endsSession) {
      if (line.trim() !== SESSION_END) out.push({ kind: "malformed", line: this.lineNumber, text: line, reason: "text around SESSION_END" });
      out.push({ kind: "session-end", line: this.lineNumber });
      return;
    }
    if (this.open) {
      this.open.text += `\n${line}`;
    } else if (opensRecord) {
      this.open = { text: line, line: this.lineNumber };
    } else {
      if (line.trim() !== "") out.push({ kind: "malformed", line: this.lineNumber, text: line, reason: "not a record" });
      return;
    }
    const record = closedRecord(this.open.text, this.open.line);
    if (record) {
      out.push(record);
      this.open = undefined;
    }
  }
}

/** The record in `text` if its end marker and metadata are there, a malformed entry if they are broken, else undefined. */
function closedRecord(text: string, line: number): LogRecord | undefined {
  const shape = kinds.find((k) => text.includes(k.start))!;
  const endAt = text.lastIndexOf(shape.end);
  if (endAt === -1) return undefined;
  const metaText = text.slice(endAt + shape.end.length).trim();
  if (metaText.includes("\n")) return undefined;
  const startAt = text.indexOf(shape.start);
  if (endAt < startAt) return undefined;
  const meta = parseMetadata(metaText);
  if (!meta) return { kind: "malformed", line, text, reason: `metadata after ${shape.end} is not {"timestamp", "index"} JSON` };
  return { kind: shape.kind, index: meta.index, timestamp: meta.timestamp, json: text.slice(startAt + shape.start.length, endAt), line };
}

function parseMetadata(text: string): { index: number; timestamp?: number } | undefined {
  try {
    const meta = JSON.parse(text) as { index?: unknown; timestamp?: unknown };
    if (typeof meta !== "object" || meta === null || !Number.isInteger(meta.index)) return undefined;
    return { index: meta.index as number, timestamp: typeof meta.timestamp === "number" ? meta.timestamp : undefined };
  } catch {
    return undefined;
  }
}
