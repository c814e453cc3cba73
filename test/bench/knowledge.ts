/**
 * The knowledge store at scale: indexing throughput (MB/s of extracted text through chunking, the FTS5 index and the
 * rows) against plain inserts of the same text in the same run, and retrieval latency over N chunks (default
 * 10,000): BM25 through the store against the bare FTS5 query it wraps, and the hybrid ranking (BM25 fused with
 * cosine similarity over D-dimensional vectors, default 1024). The query's embedding comes from a precomputed table,
 * so the hybrid figure is our ranking's cost without the embeddings model's round trip. Synthetic text: words of a
 * Zipf-distributed vocabulary, one chunk in ten Chinese.
 *
 *   bun test/bench/knowledge.ts [chunks] [dimensions] [queries]
 */
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../core/db.ts";
import type { ModelClient } from "../../core/kinds/model.ts";
import { chunkText } from "../../plugins/services/assistant/knowledge/chunk.ts";
import { KnowledgeStore, type PreparedFile } from "../../plugins/services/assistant/knowledge/store.ts";
import { anyOf, queryTerms } from "../../plugins/services/assistant/knowledge/terms.ts";
import { repoRoot } from "../support/project.ts";
import { ms, percentile } from "./support/measure.ts";

const CHUNKS = Number(process.argv[2] ?? 10_000);
const DIMS = Number(process.argv[3] ?? 1024);
const QUERIES = Number(process.argv[4] ?? 500);
const PER_FILE = 50;

let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const syllables = "ka ri to ne mu sa lo vi de pa ru go shi ta mo ze li na ko be".split(" ");
const vocabulary = Array.from({ length: 8000 }, () => Array.from({ length: 2 + Math.floor(random() * 3) }, () => syllables[Math.floor(random() * syllables.length)]).join(""));
const cumulative: number[] = [];
vocabulary.reduce((sum, _, rank) => (cumulative[rank] = sum + 1 / (rank + 1)), 0);
const zipf = (from = 0) => {
  const total = cumulative.at(-1)!;
  const base = from ? cumulative[from - 1] : 0;
  const x = base + random() * (total - base);
  let lo = from, hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return vocabulary[lo];
};
const han = () => String.fromCodePoint(0x4e00 + Math.floor(random() * 2500));
const chineseSentence = () => Array.from({ length: 12 + Math.floor(random() * 12) }, han).join("") + "。";
const englishSentence = () => {
  const words = Array.from({ length: 8 + Math.floor(random() * 12) }, () => zipf());
  return words.join(" ").replace(/^./, (c) => c.toUpperCase()) + ". ";
};
/** 650–800 characters: one chunk at the default chunk size (800), and no two fit in one. */
const chunkSource = (i: number) => {
  let text = "";
  while (text.length < 650) text += i % 10 === 9 ? chineseSentence() : englishSentence();
  return text;
};

const vectorOf = (text: string) => {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  const saved = seed;
  seed = h;
  const v = Array.from({ length: DIMS }, () => random() - 0.5);
  seed = saved;
  return v;
};
const precomputed = new Map<string, number[]>();
const embedder: ModelClient & Required<Pick<ModelClient, "embed">> = {
  name: "precomputed",
  supportsTools: false,
  chat: async function* () {},
  models: async () => [],
  embed: async (input) => input.map((text) => precomputed.get(text) ?? vectorOf(text)),
};

const base = join(repoRoot, "test", ".tmp", "bench-knowledge");
mkdirSync(base, { recursive: true });
const dir = mkdtempSync(join(base, "run-"));

const sources = Array.from({ length: Math.ceil(CHUNKS / PER_FILE) }, (_, f) =>
  Array.from({ length: Math.min(PER_FILE, CHUNKS - f * PER_FILE) }, (_, i) => chunkSource(f * PER_FILE + i)).join("\n\n"),
);
const textBytes = sources.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
const mb = textBytes / 1024 / 1024;

function indexInto(store: KnowledgeStore, vectors: boolean) {
  const began = performance.now();
  let chunks = 0;
  sources.forEach((text, f) => {
    const file: PreparedFile = { name: `f${f}.txt`, type: "txt", bytes: Buffer.byteLength(text), chunks: chunkText(text, { size: 800, overlap: 120 }) };
    if (vectors) file.vectors = file.chunks.map((c) => precomputed.get(c) ?? vectorOf(c));
    chunks += file.chunks.length;
    store.add("bench", [file], () => {});
  });
  return { seconds: (performance.now() - began) / 1000, chunks };
}

console.log(`knowledge store: ${CHUNKS} chunks of synthetic text, ${mb.toFixed(1)} MB of text, ${DIMS}-dimensional vectors, ${QUERIES} queries`);

// Baseline: the same text inserted as rows of a plain table, one transaction per file.
const plainDb = openDatabase(join(dir, "plain.sqlite"));
plainDb.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, file TEXT, text TEXT)");
const plainInsert = plainDb.query("INSERT INTO t (file, text) VALUES (?, ?)");
let began = performance.now();
sources.forEach((text, f) => plainDb.transaction(() => plainInsert.run(`f${f}`, text))());
const plainSeconds = (performance.now() - began) / 1000;

const bm25Db = openDatabase(join(dir, "bm25.sqlite"));
const bm25Store = new KnowledgeStore(bm25Db, undefined);
const indexed = indexInto(bm25Store, false);
console.log(`indexing (chunk + FTS5 + rows): ${(mb / indexed.seconds).toFixed(1)} MB/s, ${indexed.chunks} chunks in ${indexed.seconds.toFixed(2)} s; plain inserts ${(mb / plainSeconds).toFixed(1)} MB/s (ratio ${(indexed.seconds / plainSeconds).toFixed(1)})`);

const hybridDb = openDatabase(join(dir, "hybrid.sqlite"));
const hybridStore = new KnowledgeStore(hybridDb, { client: embedder, key: "precomputed/x", batchSize: 64, timeoutMs: 10_000 });
const withVectors = indexInto(hybridStore, true);
console.log(`indexing with ${DIMS}-d vectors (vectors given): ${(mb / withVectors.seconds).toFixed(1)} MB/s`);

const queries = Array.from({ length: QUERIES }, (_, i) =>
  i % 10 === 9 ? Array.from({ length: 6 }, han).join("") : Array.from({ length: 3 + Math.floor(random() * 4) }, () => zipf(50)).join(" "),
);
for (const q of queries) precomputed.set(q, vectorOf(q));

async function timed(run: (q: string) => Promise<unknown> | unknown) {
  for (const q of queries.slice(0, 50)) await run(q);
  const times: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    await run(q);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}
const row = (what: string, times: number[]) => console.log(`${what.padEnd(44)} | ${ms(percentile(times, 50))} ${ms(percentile(times, 90))} ${ms(percentile(times, 99))}`);

const direct = bm25Db.query("SELECT rowid FROM kb_fts WHERE kb_fts MATCH ? ORDER BY rank LIMIT 5");
let hits = 0;
console.log(`retrieval over ${indexed.chunks} chunks, top 5, ms              |     p50     p90     p99`);
row("bare FTS5 MATCH … ORDER BY rank (baseline)", await timed((q) => direct.all(anyOf(queryTerms(q)))));
row("BM25 (store.search)", await timed((q) => bm25Store.search("bench", q, { limit: 5 })));
for (const q of queries) hits += (await bm25Store.search("bench", q, { limit: 5 })).length;
began = performance.now();
await hybridStore.search("bench", queries[0], { limit: 5 });
console.log(`hybrid: first search loads the vectors: ${(performance.now() - began).toFixed(1)} ms`);
row(`hybrid BM25 + cosine (${DIMS}-d), RRF`, await timed((q) => hybridStore.search("bench", q, { limit: 5 })));
console.log(`(${(hits / QUERIES).toFixed(1)} BM25 hits per query on average)`);

for (const db of [plainDb, bm25Db, hybridDb]) db.close();
rmSync(dir, { recursive: true, force: true });
