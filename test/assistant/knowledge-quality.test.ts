/**
 * Retrieval quality on a small corpus written for it (22 short documents on distinct topics, 6 of them in Chinese)
 * with 20 questions whose answering document is known. The questions paraphrase their documents (sugar for glucose,
 * give off for releases, 有名 for 著名), so that a match is not a copy of the text. Recall@3: the share of questions
 * whose document is among the first three hits.
 *
 * The floor is 0.9 (18 of 20) for BM25 alone: on a corpus of distinct topics every question keeps at least one
 * topic word of its document, so a working index misses only where the paraphrase replaced every such word; a
 * broken tokenizer for Chinese costs the 4 Chinese questions (0.8), and a broken ranking far more. The hybrid figure
 * (with the test's bag-of-words embeddings, which know no synonyms here) is reported and must not fall below BM25's.
 */
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelClient } from "../../core/kinds/model.ts";
import { chunkText } from "../../plugins/services/assistant/knowledge/chunk.ts";
import { KnowledgeStore } from "../../plugins/services/assistant/knowledge/store.ts";

const dir = join(import.meta.dir, "fixtures", "knowledge-corpus");
const questions: { question: string; answer: string }[] = JSON.parse(readFileSync(join(dir, "questions.json"), "utf8"));
const FLOOR = 0.9;

/** Our own deterministic embeddings: hashed words and CJK characters, 256 buckets. */
const bagOfWords: ModelClient & Required<Pick<ModelClient, "embed">> = {
  name: "bag-of-words",
  supportsTools: false,
  chat: async function* () {},
  models: async () => [],
  embed: async (input) =>
    input.map((text) => {
      const vector = new Array(256).fill(0);
      for (const token of text.toLowerCase().match(/\p{Script=Han}|[\p{L}\p{N}]+/gu) ?? []) {
        let h = 2166136261;
        for (const c of token) h = Math.imul(h ^ c.codePointAt(0)!, 16777619) >>> 0;
        vector[h % 256] += 1;
      }
      return vector;
    }),
};

async function recallAt3(store: KnowledgeStore) {
  const files = readdirSync(dir).filter((f) => f.endsWith(".md"));
  const prepared = files.map((name) => ({ name, type: "md", bytes: 0, chunks: chunkText(readFileSync(join(dir, name), "utf8"), { size: 800, overlap: 120 }) }));
  if (store.embedder) for (const p of prepared) (p as any).vectors = await store.embed(p.chunks, "document");
  store.add("corpus", prepared, () => {});
  const missed: string[] = [];
  for (const { question, answer } of questions) {
    const hits = await store.search("corpus", question, { limit: 3 });
    if (!hits.some((h) => h.file === answer)) missed.push(`${question} → ${answer} (got ${hits.map((h) => h.file).join(", ") || "nothing"})`);
  }
  return { recall: (questions.length - missed.length) / questions.length, missed };
}

test("the corpus has 20 questions, each answered by one of its documents", () => {
  expect(questions).toHaveLength(20);
  const files = new Set(readdirSync(dir));
  for (const q of questions) expect(files.has(q.answer)).toBe(true);
});

test(`recall@3 of BM25 is at least ${FLOOR}; the hybrid ranking's is reported and not lower`, async () => {
  const bm25 = await recallAt3(new KnowledgeStore(new Database(":memory:"), undefined));
  const hybrid = await recallAt3(new KnowledgeStore(new Database(":memory:"), { client: bagOfWords, key: "bag-of-words/256", batchSize: 64, timeoutMs: 1000 }));
  console.log(`recall@3: BM25 ${bm25.recall.toFixed(2)}, hybrid ${hybrid.recall.toFixed(2)} (${questions.length} questions)`);
  for (const miss of bm25.missed) console.log(`  BM25 missed: ${miss}`);
  for (const miss of hybrid.missed) console.log(`  hybrid missed: ${miss}`);
  expect(bm25.recall).toBeGreaterThanOrEqual(FLOOR);
  expect(hybrid.recall).toBeGreaterThanOrEqual(bm25.recall);
});
