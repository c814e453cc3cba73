/** The assistant's SSE writer on its own: exact chunk frames, grouping, usage, errors. */
import { describe, expect, test } from "bun:test";
import type { CompletionBatch, CompletionEvent, Finish } from "../../plugins/services/assistant/completion.ts";
import { sseResponse } from "../../plugins/services/assistant/sse.ts";

const header = { id: "chatcmpl_1", created: 1700000000, model: "m" };

function respond(batches: CompletionEvent[][], finish: Finish | Error, includeUsage = false): Response {
  async function* events(): AsyncGenerator<CompletionBatch, void> {
    for (const batch of batches) yield { events: batch };
    if (finish instanceof Error) throw finish;
    yield { events: [], finish };
  }
  const generator = events();
  return sseResponse(options(generator, { includeUsage }));
}

function options(events: AsyncGenerator<CompletionBatch, void>, extra: Partial<Parameters<typeof sseResponse>[0]>): Parameters<typeof sseResponse>[0] {
  return {
    header,
    events,
    first: extra.first ?? events.next(),
    keepaliveMs: 1000,
    includeUsage: false,
    headers: { "x-request-id": "req-1" },
    onError: (error) => ({ message: String((error as Error).message), type: "server_error" }),
    ...extra,
  };
}

const frames = async (res: Response) =>
  (await res.text())
    .split("\n\n")
    .filter(Boolean)
    .map((f) => f.replace(/^data: /, ""));

const chunk = (delta: unknown, finish_reason: string | null = null) => ({
  id: "chatcmpl_1",
  object: "chat.completion.chunk",
  created: 1700000000,
  model: "m",
  system_fingerprint: "chatcmpl_1",
  choices: [{ index: 0, delta, logprobs: null, finish_reason }],
});

describe("sseResponse", () => {
  test("frames are exactly JSON.stringify of OpenAI's chunk objects, then [DONE]", async () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    const out = await frames(
      respond(
        [[{ type: "text", text: 'say "hi"\n' }], [{ type: "tool_call", index: 0, id: "call_1", name: "f", arguments: "{}" }]],
        { reason: "tool_calls", usage },
      ),
    );
    expect(out).toEqual([
      JSON.stringify(chunk({ role: "assistant", content: 'say "hi"\n' })),
      JSON.stringify(chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, function: { name: "f", arguments: "{}" }, id: "call_1", type: "function" }] })),
      JSON.stringify({ ...chunk({}, "tool_calls"), usage }),
      "[DONE]",
    ]);
  });

  test("include_usage: a finish chunk, then a usage chunk without choices", async () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    const out = await frames(respond([[{ type: "text", text: "a" }, { type: "text", text: "b" }]], { reason: "stop", usage }, true));
    expect(out.slice(2)).toEqual([JSON.stringify(chunk({}, "stop")), JSON.stringify({ ...chunk({}), choices: [], usage }), "[DONE]"]);
    expect(out.slice(0, 2).map((f) => JSON.parse(f).choices[0].delta.content)).toEqual(["a", "b"]);
  });

  test("the last batch carries the finish: its events, the finish chunk and [DONE] come in that order", async () => {
    async function* events(): AsyncGenerator<CompletionBatch, void> {
      yield { events: [{ type: "text", text: "a" }], finish: { reason: "length" } };
    }
    const out = await frames(sseResponse(options(events(), {})));
    expect(out.map((f) => (f === "[DONE]" ? f : JSON.parse(f).choices[0].finish_reason ?? JSON.parse(f).choices[0].delta.content))).toEqual(["a", "length", "[DONE]"]);
  });

  test("a first step that has arrived already is written without waiting on `first`", async () => {
    async function* events(): AsyncGenerator<CompletionBatch, void> {}
    const arrived = { done: false as const, value: { events: [{ type: "text" as const, text: "hi" }], finish: { reason: "stop" } } };
    const out = await frames(sseResponse(options(events(), { first: new Promise(() => {}), arrived })));
    expect(out).toHaveLength(3);
    expect(JSON.parse(out[0]).choices[0].delta.content).toBe("hi");
  });

  test("the completion is resumed past its last batch, so that it releases the upstream", async () => {
    let released = false;
    async function* events(): AsyncGenerator<CompletionBatch, void> {
      try {
        yield { events: [{ type: "text", text: "a" }], finish: { reason: "stop" } };
        yield { events: [{ type: "text", text: "never sent" }] };
      } finally {
        released = true;
      }
    }
    const out = await frames(sseResponse(options(events(), {})));
    expect(out).toHaveLength(3);
    await Bun.sleep(0);
    expect(released).toBe(true);
  });

  test("a client that leaves mid-stream releases the completion too", async () => {
    let released = false;
    let resume!: () => void;
    async function* events(): AsyncGenerator<CompletionBatch, void> {
      try {
        yield { events: [{ type: "text", text: "a" }] };
        await new Promise<void>((r) => (resume = r));
        yield { events: [{ type: "text", text: "b" }] };
        yield { events: [{ type: "text", text: "c" }] };
      } finally {
        released = true;
      }
    }
    const reader = sseResponse(options(events(), {})).body!.getReader();
    await reader.read();
    await reader.cancel();
    resume();
    for (let i = 0; i < 20 && !released; i++) await Bun.sleep(1);
    expect(released).toBe(true);
  });

  test("a failure mid-stream ends with an error frame whose request_id is the chunks' id, and [DONE]", async () => {
    const res = respond([[{ type: "text", text: "a" }]], new Error("upstream broke"));
    expect(res.headers.get("x-request-id")).toBe("req-1");
    const out = await frames(res);
    expect(JSON.parse(out[0]).id).toBe("chatcmpl_1");
    expect(JSON.parse(out[1])).toEqual({ error: { message: "upstream broke", type: "server_error", param: null, code: null }, request_id: "chatcmpl_1" });
    expect(out.at(-1)).toBe("[DONE]");
  });
});
