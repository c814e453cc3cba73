/**
 * The default layout process: history → ingress filters (in order, each sees the whole history) → LLM deltas →
 * egress filter streams (in order) → text. Egress filters may hold text back; the end of the LLM stream flushes
 * them front to back so that each one's tail still passes the ones after it.
 */
import type { ChatRecord, EgressStream, TextFilter } from "../../core/kinds/filter.ts";
import type { LayoutLlm, LayoutProcess } from "./contract.ts";

function pass(streams: EgressStream[], text: string): string {
  for (const stream of streams) {
    if (!text) return "";
    text = stream.write(text);
  }
  return text;
}

function flush(streams: EgressStream[]): string {
  let text = "";
  for (const stream of streams) text = (text ? stream.write(text) : "") + stream.flush();
  return text;
}

export function pipeline(llm: LayoutLlm, ingress: TextFilter[], egress: TextFilter[]): LayoutProcess {
  return {
    async *process(history: ChatRecord[], signal: AbortSignal) {
      let records = history;
      for (const filter of ingress) records = await filter.ingress(records);
      const streams = egress.map((filter) => filter.egress());
      for await (const delta of llm.complete(records, signal)) {
        const out = pass(streams, delta);
        if (out) yield out;
      }
      const tail = flush(streams);
      if (tail) yield tail;
    },
  };
}
