/** The assistant's SSE writer on its own: exact chunk frames, grouping, usage, errors. */
import { describe, expect, test } from "bun:test";
import type { CompletionEvent, Finish } from "../../plugins/services/assistant/completion.ts";
import { sseResponse } from "../../plugins/services/assistant/sse.ts";

const header = { id: "chatcmpl_1", created: 1700000000, model: "m" };

function respond(batches: CompletionEvent[][], finish: Finish | Error, includeUsage = false): Response {
  async function* events(): AsyncGenerator<CompletionEvent[], Finish> {
    for (const batch of batches) yield batch;
    if (finish instanceof Error) throw finish;
    return finish;
  }
  const generator = events();
  return sseResponse({
    header,
    events: generator,
    first: generator.next(),
    firstArrived: false,
    keepaliveMs: 1000,
    includeUsage,
    requestId: "req-1",
    headers: { "x-request-id": "req-1" },
    onError: (error) => ({ message: String((error as Error).message), type: "server_error" }),
  });
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

  test("a failure mid-stream ends with an error frame and [DONE]", async () => {
    const res = respond([[{ type: "text", text: "a" }]], new Error("upstream broke"));
    expect(res.headers.get("x-request-id")).toBe("req-1");
    const out = await frames(res);
    expect(JSON.parse(out[1])).toEqual({ error: { message: "upstream broke", type: "server_error", param: null, code: null }, request_id: "req-1" });
    expect(out.at(-1)).toBe("[DONE]");
  });
});
