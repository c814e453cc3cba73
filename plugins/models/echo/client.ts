/**
 * The offline "reflect" model: streams back the last user message in a few chunks, finish "stop",
 * with usage counted by `countTokens`. Needs no network; useful for workers and tests.
 */
import type { ChatEvent, ChatMessage, ChatOptions, ModelClient } from "../../../core/kinds/model.ts";
import { createDeadline, type Deadline } from "../../protocol/model-http/deadline.ts";
import { contentText } from "../../protocol/model-http/content.ts";
import type { ClientDeps } from "../../protocol/model-http/deps.ts";
import { callerAbortError, timeoutError, type ErrorContext } from "../../protocol/model-http/errors.ts";
import { ECHO_DEFAULTS, type EchoConfig } from "./config.ts";
import { countTokens, splitIntoChunks } from "./tokens.ts";

/** Takes the same deps as the HTTP clients so that wiring is uniform; it uses none but `name`. */
export function createEchoClient(config: EchoConfig = {}, deps: Partial<ClientDeps> = {}): ModelClient {
  const name = deps.name ?? "echo";
  const model = config.model ?? ECHO_DEFAULTS.model;
  const chunks = config.chunks ?? ECHO_DEFAULTS.chunks;
  const delayMs = config.delay_ms ?? ECHO_DEFAULTS.delay_ms;
  const ctx: ErrorContext = { client: name, target: "(offline)", secrets: [] };

  async function* reflect(messages: ChatMessage[], options: ChatOptions): AsyncGenerator<ChatEvent> {
    const deadline = createDeadline(options.signal, options.timeoutMs ?? config.timeout_ms ?? ECHO_DEFAULTS.timeout_ms);
    try {
      const answer = contentText([...messages].reverse().find((m) => m.role === "user")?.content ?? "");
      for (const piece of splitIntoChunks(answer, chunks)) {
        await pause(delayMs, deadline);
        yield { type: "text", text: piece };
      }
      throwIfAborted(deadline);
      const prompt = messages.reduce((sum, m) => sum + countTokens(contentText(m.content)), 0);
      const completion = countTokens(answer);
      yield { type: "finish", reason: "stop", usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } };
    } finally {
      deadline.dispose();
    }
  }

  function throwIfAborted(deadline: Deadline): void {
    const cause = deadline.abortCause();
    if (cause === "caller") throw callerAbortError(ctx);
    if (cause === "timeout") throw timeoutError(ctx, deadline.timeoutMs);
  }

  async function pause(ms: number, deadline: Deadline): Promise<void> {
    throwIfAborted(deadline);
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        deadline.signal.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(timer);
          deadline.signal.removeEventListener("abort", done);
          resolve();
        }
      });
    }
    throwIfAborted(deadline);
  }

  return {
    name,
    supportsTools: false,
    chat: (messages, options = {}) => reflect(messages, options),
    models: async () => [model],
  };
}
