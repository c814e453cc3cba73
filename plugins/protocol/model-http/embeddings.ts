/**
 * What every vendor's embeddings call shares: the texts cut into batches of the vendor's maximum, one POST per batch
 * (with the upstream's retries, deadline and error mapping), and the vectors checked and put back in input order.
 */
import type { EmbedOptions } from "../../../core/kinds/model.ts";
import { protocolError } from "./errors.ts";
import { asArray, asNumber } from "./shape.ts";
import { errorContext, fetchUpstreamJson, type Upstream } from "./upstream.ts";

export interface EmbeddingsCall {
  url: string;
  headers: Record<string, string>;
  /** Largest number of texts one request may carry. */
  batchSize: number;
  body(texts: string[]): unknown;
  /** The batch's vectors in the order of its texts, from the vendor's answer (undefined where one is missing). */
  vectors(answer: unknown): unknown[];
}

function vector(value: unknown): number[] | undefined {
  const items = asArray(value);
  if (!Array.isArray(value) || items.length === 0) return undefined;
  const out = items.map(asNumber);
  return out.every((n): n is number => n !== undefined) ? out : undefined;
}

/** Entries `[{<indexKey>: i, embedding}]` (OpenAI's `index`, DashScope's `text_index`) in index order. */
export function byIndex(entries: unknown, indexKey: string): unknown[] {
  const out: unknown[] = [];
  for (const entry of asArray(entries)) {
    const index = asNumber((entry as Record<string, unknown> | null)?.[indexKey]);
    if (index !== undefined && Number.isInteger(index) && index >= 0) out[index] = (entry as Record<string, unknown>).embedding;
  }
  return out;
}

export async function embedInBatches(up: Upstream, input: string[], call: EmbeddingsCall, options: EmbedOptions = {}): Promise<number[][]> {
  const out: number[][] = [];
  for (let start = 0; start < input.length; start += call.batchSize) {
    const texts = input.slice(start, start + call.batchSize);
    const answer = await fetchUpstreamJson(up, {
      url: call.url,
      init: { method: "POST", headers: { ...call.headers, "content-type": "application/json" }, body: JSON.stringify(call.body(texts)) },
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    const vectors = call.vectors(answer);
    for (let i = 0; i < texts.length; i++) {
      const v = vector(vectors[i]);
      if (!v) throw protocolError(errorContext(up, call.url), `no embedding for input ${start + i} (${vectors.length} vectors for ${texts.length} texts)`);
      out.push(v);
    }
  }
  return out;
}
