/**
 * `parseReply` for a reply that arrives in deltas. Feed it the model's text deltas; it returns events that
 * map one to one onto OpenAI chunks (they are the `text` and `tool_call` members of `ChatEvent`):
 *
 * - `{type:"text", text}`                      → `choices[0].delta.content`
 * - `{type:"tool_call", index, id, name, arguments:""}` (a call starts; sent once the `Action Input:` line
 *   confirms it) → `delta.tool_calls[{index, id, type:"function", function:{name, arguments}}]`
 * - `{type:"tool_call", index, arguments}`     → `delta.tool_calls[{index, function:{arguments}}]`
 *
 * Content streams out at once, except for a tail that could still turn into `Action:` or `Observation:`
 * and the whitespace before it (content before a call is trimmed). Text events only come before the first
 * tool_call event. Arguments stream as the model writes the JSON. A delta never ends inside a surrogate pair.
 * Concatenating the events gives exactly what `parseReply` returns for the whole text (ids aside).
 */
import type { ChatEvent } from "../../../core/kinds/model.ts";
import { newToolCallId } from "./call-id.ts";
import {
  ACTION_MARKER,
  checkLineStart,
  isJsonStart,
  isWhitespace,
  matchCall,
  partialMarkerLength,
  rawArguments,
  whitespaceRunStart,
} from "./grammar.ts";
import { LenientJsonWriter } from "./lenient-json.ts";
import type { FinishReason, ParseOptions } from "./parse.ts";
import { StopMarkerFilter } from "./stop-marker.ts";

export type ReplyEvent = Extract<ChatEvent, { type: "text" | "tool_call" }>;

type State =
  /** Looking for `Action:`; before the first call the text is content, after it the text is dropped. */
  | { kind: "scan" }
  /** After `Action Input:`, before the first non-blank character. */
  | { kind: "arguments-start"; lineEnded: boolean }
  /** Arguments that are the rest of the `Action Input:` line. */
  | { kind: "raw-arguments"; line: string }
  | { kind: "json-arguments"; writer: LenientJsonWriter; atLineStart: boolean }
  /** `parallelToolCalls: false` and the first call is done. */
  | { kind: "ignore" };

export class ReplyStreamParser {
  private readonly names: ReadonlySet<string>;
  private readonly parallel: boolean;
  private readonly newId: () => string;
  private readonly stopFilter = new StopMarkerFilter();
  /** A high surrogate whose low half has not arrived yet. */
  private highSurrogate = "";
  /** Text received but not consumed yet. */
  private buffer = "";
  /** Every `Action:` in `buffer` before this index has been found not to be a call. */
  private scanFrom = 0;
  private state: State = { kind: "scan" };
  private calls = 0;
  private events: ReplyEvent[] = [];
  private finished = false;

  constructor(options: ParseOptions) {
    this.names = new Set(options.toolNames);
    this.parallel = options.parallelToolCalls ?? true;
    this.newId = options.newCallId ?? newToolCallId;
  }

  feed(delta: string): ReplyEvent[] {
    if (this.finished) throw new Error("ReplyStreamParser.feed() called after finish()");
    let text = this.highSurrogate + delta;
    this.highSurrogate = "";
    if (endsWithHighSurrogate(text)) {
      this.highSurrogate = text.slice(-1);
      text = text.slice(0, -1);
    }
    this.receive(text, false);
    return this.takeEvents();
  }

  /** Ends the stream: flushes what was held back and says how the reply finished. */
  finish(): { events: ReplyEvent[]; finishReason: FinishReason } {
    if (!this.finished) {
      this.receive(this.highSurrogate, true);
      this.highSurrogate = "";
      this.finished = true;
    }
    return { events: this.takeEvents(), finishReason: this.calls > 0 ? "tool_calls" : "stop" };
  }

  private receive(text: string, complete: boolean): void {
    if (this.names.size === 0) {
      this.emitText(text);
      return;
    }
    this.buffer += this.stopFilter.push(text);
    if (complete) this.buffer += this.stopFilter.flush();
    // Past the stop marker nothing more counts, so everything can be decided now.
    const noMoreText = complete || this.stopFilter.stopped;
    while (this.step(noMoreText));
  }

  /** Advances the state machine; false when it needs more text. */
  private step(complete: boolean): boolean {
    switch (this.state.kind) {
      case "scan":
        return this.scan(complete);
      case "arguments-start":
        return this.argumentsStart(this.state, complete);
      case "raw-arguments":
        return this.rawArguments(this.state, complete);
      case "json-arguments":
        return this.jsonArguments(this.state, complete);
      case "ignore":
        this.buffer = "";
        return false;
    }
  }

  private scan(complete: boolean): boolean {
    const inContent = this.calls === 0;
    for (;;) {
      const start = this.buffer.indexOf(ACTION_MARKER, this.scanFrom);
      if (start < 0) {
        if (complete) {
          this.release(this.buffer.length, inContent);
          return false;
        }
        const keep = this.buffer.length - partialMarkerLength(this.buffer, ACTION_MARKER);
        this.release(inContent ? whitespaceRunStart(this.buffer, keep) : keep, inContent);
        return false;
      }
      const match = matchCall(this.buffer, start, this.names, complete);
      if (match.kind === "not-call") {
        this.scanFrom = start + 1;
        continue;
      }
      if (match.kind === "undecided") {
        this.release(inContent ? whitespaceRunStart(this.buffer, start) : start, inContent);
        return false;
      }
      if (inContent) this.emitText(this.buffer.slice(0, whitespaceRunStart(this.buffer, start)));
      this.startCall(match.name);
      this.consume(match.argsStart);
      this.state = { kind: "arguments-start", lineEnded: false };
      return true;
    }
  }

  private argumentsStart(state: { lineEnded: boolean }, complete: boolean): boolean {
    let at = 0;
    while (at < this.buffer.length && isWhitespace(this.buffer[at])) {
      if (this.buffer[at] === "\n") state.lineEnded = true;
      at++;
    }
    this.consume(at);
    if (this.buffer.length === 0) {
      if (!complete) return false;
      this.endCall("{}");
      return true;
    }
    if (isJsonStart(this.buffer[0])) {
      this.state = { kind: "json-arguments", writer: new LenientJsonWriter(), atLineStart: false };
    } else if (state.lineEnded) {
      // The `Action Input:` line was empty; what follows is no longer this call's.
      this.endCall("{}");
    } else {
      this.state = { kind: "raw-arguments", line: "" };
    }
    return true;
  }

  private rawArguments(state: { line: string }, complete: boolean): boolean {
    const lineEnd = this.buffer.indexOf("\n");
    if (lineEnd < 0) {
      state.line += this.buffer;
      this.consume(this.buffer.length);
      if (!complete) return false;
    } else {
      state.line += this.buffer.slice(0, lineEnd);
      this.consume(lineEnd + 1);
    }
    this.endCall(rawArguments(state.line));
    return true;
  }

  private jsonArguments(state: { writer: LenientJsonWriter; atLineStart: boolean }, complete: boolean): boolean {
    const { writer } = state;
    if (state.atLineStart) {
      const check = checkLineStart(this.buffer, 0, complete);
      if (check === "undecided") return false;
      if (check === "next-call") {
        this.endCall(writer.end());
        return true;
      }
      state.atLineStart = false;
    }
    let json = "";
    let at = 0;
    while (at < this.buffer.length && !writer.done) {
      const ch = this.buffer[at++];
      json += writer.push(ch);
      if (ch === "\n") {
        state.atLineStart = true;
        break;
      }
    }
    this.consume(at);
    if (writer.done) {
      this.endCall(json);
      return true;
    }
    this.emitArguments(json);
    if (state.atLineStart) return true;
    if (!complete) return false;
    this.endCall(writer.end());
    return true;
  }

  /** Drops the first `length` characters of the buffer, sending them out as content when `asContent`. */
  private release(length: number, asContent: boolean): void {
    if (asContent) this.emitText(this.buffer.slice(0, length));
    this.consume(length);
  }

  private consume(length: number): void {
    this.buffer = this.buffer.slice(length);
    this.scanFrom = Math.max(0, this.scanFrom - length);
  }

  private startCall(name: string): void {
    this.events.push({ type: "tool_call", index: this.calls, id: this.newId(), name, arguments: "" });
    this.calls++;
  }

  /** Sends the call's last arguments text; the next text is scanned for another call (or ignored). */
  private endCall(lastArguments: string): void {
    this.emitArguments(lastArguments);
    this.state = this.parallel ? { kind: "scan" } : { kind: "ignore" };
  }

  private emitArguments(text: string): void {
    if (text === "") return;
    const index = this.calls - 1;
    const last = this.events[this.events.length - 1];
    if (last?.type === "tool_call" && last.index === index) last.arguments = (last.arguments ?? "") + text;
    else this.events.push({ type: "tool_call", index, arguments: text });
  }

  private emitText(text: string): void {
    if (text === "") return;
    const last = this.events[this.events.length - 1];
    if (last?.type === "text") last.text += text;
    else this.events.push({ type: "text", text });
  }

  private takeEvents(): ReplyEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }
}

function endsWithHighSurrogate(text: string): boolean {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff;
}
