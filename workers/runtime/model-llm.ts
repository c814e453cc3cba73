/** A model plugin's streaming client as a layout LLM: chat records in, text deltas out. */
import type { ChatRecord } from "../../core/kinds/filter.ts";
import type { ChatMessage, ModelClient } from "../../core/kinds/model.ts";
import type { LayoutLlm } from "./contract.ts";

const roles = { user: "user", bot: "assistant", system: "system" } as const;

export function modelLlm(client: ModelClient): LayoutLlm {
  return {
    async *complete(records: ChatRecord[], signal: AbortSignal) {
      const messages: ChatMessage[] = records.map((r) => ({ role: roles[r.role], content: r.msg }));
      for await (const event of client.chat(messages, { signal })) {
        if (event.type === "text" && event.text) yield event.text;
      }
    },
  };
}
