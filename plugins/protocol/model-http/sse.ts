/**
 * Incremental Server-Sent Events parser (WHATWG "event stream interpretation"): `data` lines are joined with
 * LF, `event`/`id` fields are kept, comment lines (starting with ":") are collected because some vendors put
 * status there (DashScope's `:HTTP_STATUS/200`). An event without a terminating blank line is incomplete and
 * is dropped at end of stream, so a cut stream never yields a half event.
 */
import { decodeItems, LayeredDecoder } from "./decoder.ts";
import { LineSplitter } from "./lines.ts";

export interface SSEEvent {
  /** `event:` field, "message" when absent. */
  event: string;
  data: string;
  id?: string;
  /** Comment lines of this event, without the leading ":" (and one optional space). */
  comments: string[];
}

export class SSEDecoder extends LayeredDecoder<string, SSEEvent> {
  private pending = emptyEvent();
  private hasData = false;
  private data: string[] = [];

  constructor() {
    super(new LineSplitter());
  }

  protected item(line: string, events: SSEEvent[]): void {
    if (line === "") {
      if (this.hasData) events.push({ ...this.pending, data: this.data.join("\n") });
      this.pending = emptyEvent();
      this.hasData = false;
      this.data = [];
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "":
        this.pending.comments.push(value);
        break;
      case "data":
        this.hasData = true;
        this.data.push(value);
        break;
      case "event":
        this.pending.event = value || "message";
        break;
      case "id":
        if (!value.includes("\0")) this.pending.id = value;
        break;
      // `retry` and unknown fields are ignored: we never reconnect.
    }
  }
}

function emptyEvent(): SSEEvent {
  return { event: "message", data: "", comments: [] };
}

export function parseSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent> {
  return decodeItems(body, new SSEDecoder());
}
