import { describe, expect, test } from "bun:test";
import { ChatCompletionDecoder } from "../../plugins/protocol/openai-chat/events.ts";
import { decodeBatches } from "../../plugins/protocol/model-http/decoder.ts";
import { parseNDJSON } from "../../plugins/protocol/model-http/ndjson.ts";
import { MalformedFrame } from "../../plugins/protocol/model-http/json-frame.ts";
import { parseSSE, SSEDecoder, type SSEEvent } from "../../plugins/protocol/model-http/sse.ts";

/** A byte stream delivered in the given pieces (strings are UTF-8 encoded; arrays are raw bytes). */
function bytes(pieces: (string | number[])[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : new Uint8Array(piece));
      controller.close();
    },
  });
}

async function events(pieces: (string | number[])[]): Promise<SSEEvent[]> {
  const out: SSEEvent[] = [];
  for await (const event of parseSSE(bytes(pieces))) out.push(event);
  return out;
}

describe("parseSSE", () => {
  test("splits events on blank lines and reads event, id and data", async () => {
    const out = await events(["event: result\nid: 7\ndata: {\"a\":1}\n\ndata: two\n\n"]);
    expect(out).toEqual([
      { event: "result", id: "7", data: '{"a":1}', comments: [] },
      { event: "message", data: "two", comments: [] },
    ]);
  });

  test("handles CRLF and lone CR line endings, also split across chunks", async () => {
    const out = await events(["data: a\r", "\n\r", "\ndata: b\r\rdata: c\r\n\r\n"]);
    expect(out.map((e) => e.data)).toEqual(["a", "b", "c"]);
  });

  test("joins multi-line data with LF and strips only one leading space", async () => {
    const out = await events(["data: line1\ndata:  line2\ndata:line3\n\n"]);
    expect(out[0].data).toBe("line1\n line2\nline3");
  });

  test("collects comments and never dispatches a comment-only block", async () => {
    const out = await events([": keep-alive\n\nid:1\nevent:result\n:HTTP_STATUS/200\ndata:{}\n\n"]);
    expect(out).toEqual([{ event: "result", id: "1", data: "{}", comments: ["HTTP_STATUS/200"] }]);
  });

  test("reassembles events and multi-byte characters split at any byte", async () => {
    const text = "data: 你好, wörld 🎉\n\n";
    const raw = Array.from(new TextEncoder().encode(text));
    const out = await events(raw.map((b) => [b]));
    expect(out[0].data).toBe("你好, wörld 🎉");
  });

  test("drops an incomplete event at end of stream", async () => {
    const out = await events(["data: whole\n\ndata: half"]);
    expect(out.map((e) => e.data)).toEqual(["whole"]);
  });

  test("an empty data field still dispatches an event with empty data", async () => {
    const out = await events(["data:\n\n"]);
    expect(out).toEqual([{ event: "message", data: "", comments: [] }]);
  });

  test("stopping early cancels the underlying stream", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: 1\n\ndata: 2\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const _ of parseSSE(stream)) break;
    expect(cancelled).toBe(true);
  });
});

describe("parseNDJSON", () => {
  test("yields one value per line, skipping blanks, across chunk boundaries", async () => {
    const out: unknown[] = [];
    for await (const value of parseNDJSON(bytes(['{"a":', '1}\n\n{"b":2}\r\n', '{"c":3}']))) out.push(value);
    expect(out).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  test("a line that is not JSON is a MalformedFrame naming the line", async () => {
    const run = async () => {
      for await (const _ of parseNDJSON(bytes(['{"a":1}\n', "oops\n"]))) {
      }
    };
    await expect(run()).rejects.toBeInstanceOf(MalformedFrame);
    await expect(run()).rejects.toThrow("oops");
  });
});

describe("decodeBatches", () => {
  test("one batch per network read, however many events it carries", async () => {
    const batches: SSEEvent[][] = [];
    for await (const batch of decodeBatches(bytes(["data: 1\n\ndata: 2\n\ndata: 3\n\n", "data: 4", "\n\n"]), new SSEDecoder())) batches.push(batch);
    expect(batches.map((b) => b.map((e) => e.data))).toEqual([["1", "2", "3"], ["4"]]);
  });

  test("a decoder that saw its terminator stops the read and cancels the body", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const ctx = { client: "openai", target: "test", secrets: [] };
    const events = [];
    for await (const batch of decodeBatches(stream, new ChatCompletionDecoder(ctx))) events.push(...batch);
    expect(events).toEqual([{ type: "text", text: "hi" }, { type: "finish", reason: "stop" }]);
    expect(cancelled).toBe(true);
  });
});
