import { describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { ModelError } from "../../core/kinds/model.ts";
import { createEchoClient } from "../../plugins/models/echo/client.ts";
import { EchoConfig } from "../../plugins/models/echo/config.ts";
import { countTokens, splitIntoChunks } from "../../plugins/models/echo/tokens.ts";
import { collect, failure, textOf } from "./support/loopback.ts";

const history = [
  { role: "system" as const, content: "be a mirror" },
  { role: "user" as const, content: "first question" },
  { role: "assistant" as const, content: "first answer" },
  { role: "user" as const, content: "Reflect this sentence back, please" },
];

describe("echo", () => {
  test("answers with the last user message in a few chunks, finish stop, with usage", async () => {
    const echo = createEchoClient();
    expect([echo.name, echo.supportsTools]).toEqual(["echo", false]);
    const events = await collect(echo.chat(history));
    const texts = events.filter((e) => e.type === "text");
    expect(texts.length).toBe(4);
    expect(textOf(events)).toBe("Reflect this sentence back, please");
    expect(events.at(-1)).toEqual({ type: "finish", reason: "stop", usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } });
  });

  test("no user message: empty answer, still one finish", async () => {
    const events = await collect(createEchoClient().chat([{ role: "system", content: "x" }]));
    expect(events).toEqual([{ type: "finish", reason: "stop", usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 } }]);
  });

  test("delay_ms paces the chunks and an AbortSignal stops it promptly with an AbortError", async () => {
    const echo = createEchoClient({ delay_ms: 200, chunks: 10 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 250);
    const started = Date.now();
    const seen: string[] = [];
    const error = await (async () => {
      for await (const event of echo.chat(history, { signal: controller.signal })) if (event.type === "text") seen.push(event.text);
    })().catch((e) => e);
    expect(error.name).toBe("AbortError");
    expect(Date.now() - started).toBeLessThan(400);
    expect(seen.length).toBe(1);
  });

  test("an already aborted signal yields nothing", async () => {
    const error = await failure(createEchoClient().chat(history, { signal: AbortSignal.abort() }));
    expect(error.name).toBe("AbortError");
  });

  test("timeoutMs ends a slow echo with a timeout ModelError", async () => {
    const error = await failure(createEchoClient({ delay_ms: 100 }).chat(history, { timeoutMs: 150 }));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toContain("timed out after 150 ms");
  });

  test("lists its model name", async () => {
    expect(await createEchoClient({ model: "reflect" }).models()).toEqual(["reflect"]);
  });

  test("config schema accepts an empty object and fills defaults", () => {
    expect(Value.Default(EchoConfig, {})).toEqual({ model: "echo", chunks: 4, delay_ms: 0, timeout_ms: 300_000 });
    expect(Value.Check(EchoConfig, { chunks: 0 })).toBe(false);
  });
});

describe("echo tokens", () => {
  test("words count once each, CJK characters count one each", () => {
    expect(countTokens("hello  world\n!")).toBe(3);
    expect(countTokens("你好，世界")).toBe(5);
    expect(countTokens("GPT 模型 ok")).toBe(4);
    expect(countTokens("   ")).toBe(0);
  });

  test("chunks never split a surrogate pair", () => {
    expect(splitIntoChunks("🎉🎉🎉🎉", 2)).toEqual(["🎉🎉", "🎉🎉"]);
    expect(splitIntoChunks("ab", 4)).toEqual(["a", "b"]);
    expect(splitIntoChunks("", 4)).toEqual([]);
  });
});
