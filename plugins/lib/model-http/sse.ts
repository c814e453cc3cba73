/**
 * Incremental Server-Sent Events parser (WHATWG "event stream interpretation"): `data` lines are joined with
 * LF, `event`/`id` fields are kept, comment lines (starting with ":") are collected because some vendors put
 * status there (DashScope's `:HTTP_STATUS/200`). An event without a terminating blank line is incomplete and
 * is dropped at end of stream, so a cut stream never yields a half event.
 */
import { readLineBatches } from "./lines.ts";

export interface SSEEvent {
  /** `event:` field, "message" when absent. */
  event: string;
  data: string;
  id?: string;
  /** Comment lines of this event, without the leading ":" (and one optional space). */
  comments: string[];
}

export async function* parseSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent> {
  for await (const events of parseSSEBatches(body)) yield* events;
}

/** The same events, one non-empty batch per chunk read, for consumers that want one async step per chunk. */
export async function* parseSSEBatches(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent[]> {
  let pending = emptyEvent();
  let hasData = false;
  let data: string[] = [];
  for await (const lines of readLineBatches(body)) {
    const events: SSEEvent[] = [];
    for (const line of lines) {
      if (line === "") {
        if (hasData) events.push({ ...pending, data: data.join("\n") });
        pending = emptyEvent();
        hasData = false;
        data = [];
        continue;
      }
      const { field, value } = splitField(line);
      switch (field) {
        case "":
          pending.comments.push(value);
          break;
        case "data":
          hasData = true;
          data.push(value);
          break;
        case "event":
          pending.event = value || "message";
          break;
        case "id":
          if (!value.includes("\0")) pending.id = value;
          break;
        // `retry` and unknown fields are ignored: we never reconnect.
      }
    }
    if (events.length) yield events;
  }
}

function emptyEvent(): SSEEvent {
  return { event: "message", data: "", comments: [] };
}

function splitField(line: string): { field: string; value: string } {
  const colon = line.indexOf(":");
  if (colon === -1) return { field: line, value: "" };
  const value = line.slice(colon + 1);
  return { field: line.slice(0, colon), value: value.startsWith(" ") ? value.slice(1) : value };
}
