/**
 * The knowledge index: uploaded files' chunks in SQLite, full-text searchable through FTS5 with BM25, and, when an
 * embeddings model is configured, their vectors beside them for a hybrid ranking. One table set for every user; the
 * `owner` column of the full-text table holds the user's number, so that a search reads only that user's postings.
 */
import type { Database } from "bun:sqlite";
import type { ModelClient } from "../../../../core/kinds/model.ts";
import type { KnowledgeBase, KnowledgeHit, KnowledgeSearch } from "./contract.ts";
import { anyOf, indexTerms, queryTerms } from "./terms.ts";

export interface Embedder {
  client: ModelClient & Required<Pick<ModelClient, "embed">>;
  model?: string;
  /** `plugin/model`: vectors of another embedder are not compared with this one's. */
  key: string;
  batchSize: number;
  timeoutMs: number;
  /** A query waits this long for its vector, then is ranked by BM25 alone (default 5000). */
  queryTimeoutMs?: number;
}

/** A file ready to be indexed: its chunks and, with an embedder, one vector per chunk. */
export interface PreparedFile {
  name: string;
  type: string;
  bytes: number;
  chunks: string[];
  vectors?: number[][];
}

export interface FileRecord {
  name: string;
  type: string;
  bytes: number;
  chunks: number;
  embedded: boolean;
  uploaded_at: string;
}

/** Ranks of the two lists are fused as 1/(RRF_K + rank), Cormack et al. (2009)'s constant. */
const RRF_K = 60;

interface Vectors {
  ids: number[];
  files: string[];
  dim: number;
  /** Unit-length rows, `dim` floats each. */
  matrix: Float32Array;
}

export class KnowledgeStore implements KnowledgeBase {
  private readonly vectorCache = new Map<string, Vectors>();

  constructor(
    private readonly db: Database,
    readonly embedder: Embedder | undefined,
    private readonly onEmbedFailure: (error: unknown) => void = () => {},
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS kb_owners (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS kb_files (
        owner INTEGER NOT NULL REFERENCES kb_owners(id), name TEXT NOT NULL, type TEXT NOT NULL, bytes INTEGER NOT NULL,
        chunks INTEGER NOT NULL, embed_key TEXT, uploaded_at TEXT NOT NULL, PRIMARY KEY (owner, name));
      CREATE TABLE IF NOT EXISTS kb_chunks (
        id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, file TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL, vector BLOB,
        FOREIGN KEY (owner, file) REFERENCES kb_files(owner, name) ON DELETE CASCADE);
      CREATE INDEX IF NOT EXISTS kb_chunks_file ON kb_chunks(owner, file);
      CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(terms, owner, tokenize = 'porter unicode61 remove_diacritics 2');
    `);
  }

  private ownerOf(uuid: string): number | undefined {
    return this.db.query<{ id: number }, [string]>("SELECT id FROM kb_owners WHERE uuid = ?").get(uuid)?.id;
  }

  async hasIndex(uuid: string): Promise<boolean> {
    const owner = this.ownerOf(uuid);
    return owner !== undefined && this.db.query("SELECT 1 FROM kb_chunks WHERE owner = ? LIMIT 1").get(owner) !== null;
  }

  has(uuid: string, name: string): boolean {
    const owner = this.ownerOf(uuid);
    return owner !== undefined && this.db.query("SELECT 1 FROM kb_files WHERE owner = ? AND name = ?").get(owner, name) !== null;
  }

  count(uuid: string): number {
    const owner = this.ownerOf(uuid);
    return owner === undefined ? 0 : this.db.query<{ n: number }, [number]>("SELECT count(*) AS n FROM kb_files WHERE owner = ?").get(owner)!.n;
  }

  list(uuid: string): FileRecord[] {
    const owner = this.ownerOf(uuid);
    if (owner === undefined) return [];
    return this.db
      .query<Omit<FileRecord, "embedded"> & { embedded: number }, [number]>(
        "SELECT name, type, bytes, chunks, embed_key IS NOT NULL AS embedded, uploaded_at FROM kb_files WHERE owner = ? ORDER BY name",
      )
      .all(owner)
      .map((row) => ({ ...row, embedded: Boolean(row.embedded) }));
  }

  /** Every (uuid, name) with a record, for the start-up sweep of files on disk. */
  allFiles(): Set<string> {
    const rows = this.db.query<{ uuid: string; name: string }, []>("SELECT o.uuid, f.name FROM kb_files f JOIN kb_owners o ON o.id = f.owner").all();
    return new Set(rows.map((r) => `${r.uuid}/${r.name}`));
  }

  /**
   * Adds files in one transaction. `place(file)` runs inside it, after the file's rows are written, to move the file
   * into place; when it or anything else throws, no row stays. A name the user already has is skipped (and not placed).
   * Returns the names added.
   */
  add(uuid: string, files: PreparedFile[], place: (file: PreparedFile) => void): string[] {
    const added: string[] = [];
    this.db.transaction(() => {
      this.db.query("INSERT OR IGNORE INTO kb_owners (uuid) VALUES (?)").run(uuid);
      const owner = this.ownerOf(uuid)!;
      const now = new Date().toISOString();
      const insertFile = this.db.query(
        "INSERT OR IGNORE INTO kb_files (owner, name, type, bytes, chunks, embed_key, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      const insertChunk = this.db.query("INSERT INTO kb_chunks (owner, file, seq, text, vector) VALUES (?, ?, ?, ?, ?)");
      const insertTerms = this.db.query("INSERT INTO kb_fts (rowid, terms, owner) VALUES (?, ?, ?)");
      for (const file of files) {
        const embedKey = file.vectors && this.embedder ? this.embedder.key : null;
        if (insertFile.run(owner, file.name, file.type, file.bytes, file.chunks.length, embedKey, now).changes === 0) continue;
        file.chunks.forEach((text, seq) => {
          const vector = file.vectors ? new Uint8Array(Float32Array.from(file.vectors[seq]).buffer) : null;
          const id = Number(insertChunk.run(owner, file.name, seq, text, vector).lastInsertRowid);
          insertTerms.run(id, indexTerms(text), String(owner));
        });
        place(file);
        added.push(file.name);
      }
    })();
    if (added.length) this.vectorCache.delete(uuid);
    return added;
  }

  /** Removes a file's rows; false when the user has no such file. */
  remove(uuid: string, name: string): boolean {
    const owner = this.ownerOf(uuid);
    if (owner === undefined) return false;
    const removed = this.db.transaction(() => {
      this.db.query("DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks WHERE owner = ? AND file = ?)").run(owner, name);
      this.db.query("DELETE FROM kb_chunks WHERE owner = ? AND file = ?").run(owner, name);
      return this.db.query("DELETE FROM kb_files WHERE owner = ? AND name = ?").run(owner, name).changes > 0;
    })();
    this.vectorCache.delete(uuid);
    return removed;
  }

  /**
   * One vector per text from the configured embedder, in batches, each within its deadline (`timeout_ms` at upload,
   * `query_timeout_ms` for a query), which holds even against a client that ignores its signal.
   */
  async embed(texts: string[], purpose: "document" | "query", signal?: AbortSignal): Promise<number[][]> {
    const embedder = this.embedder!;
    const [deadline, field] = purpose === "query" ? [embedder.queryTimeoutMs ?? 5000, "query_timeout_ms"] : [embedder.timeoutMs, "timeout_ms"];
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += embedder.batchSize) {
      const batch = texts.slice(i, i + embedder.batchSize);
      const stop = new AbortController();
      const abort = () => stop.abort(signal?.reason);
      if (signal?.aborted) abort();
      else signal?.addEventListener("abort", abort, { once: true });
      let timer: Timer | undefined;
      try {
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new Error(`no embeddings within ${deadline} ms (knowledge.embeddings.${field})`);
            stop.abort(error);
            reject(error);
          }, deadline);
        });
        const vectors = await Promise.race([embedder.client.embed(batch, { model: embedder.model, purpose, signal: stop.signal, timeoutMs: deadline }), late]);
        if (vectors.length !== batch.length) throw new Error(`embeddings model '${embedder.key}' returned ${vectors.length} vectors for ${batch.length} texts`);
        out.push(...vectors);
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", abort);
      }
    }
    return out;
  }

  async search(uuid: string, query: string, options: KnowledgeSearch = {}): Promise<KnowledgeHit[]> {
    const limit = Number.isFinite(options.limit) ? Math.max(1, Math.floor(options.limit!)) : 5;
    const owner = this.ownerOf(uuid);
    if (owner === undefined) return [];
    const files = options.files?.length ? new Set(options.files) : undefined;
    // The hybrid ranking fuses deeper lists than it returns: a chunk ranked 8th by both may beat one ranked 1st by one.
    const depth = this.embedder ? Math.max(limit * 4, 40) : limit;
    const lexical = this.bm25(owner, query, depth, files);
    if (!this.embedder) return lexical.map((hit) => ({ file: hit.file, text: hit.text, score: -hit.rank }));

    let semantic: { id: number; score: number }[] = [];
    try {
      const [vector] = await this.embed([query], "query", options.signal);
      semantic = this.nearest(uuid, owner, vector, depth, files);
    } catch (error) {
      // Retrieval without the vectors still answers; the failure is logged by the caller's handler.
      if (options.signal?.aborted) throw error;
      this.onEmbedFailure(error);
    }
    const fused = new Map<number, number>();
    lexical.forEach((hit, rank) => fused.set(hit.id, (fused.get(hit.id) ?? 0) + 1 / (RRF_K + rank + 1)));
    semantic.forEach((hit, rank) => fused.set(hit.id, (fused.get(hit.id) ?? 0) + 1 / (RRF_K + rank + 1)));
    const best = [...fused].sort((a, b) => b[1] - a[1]).slice(0, limit);
    const texts = this.chunksById(best.map(([id]) => id));
    return best.map(([id, score]) => ({ ...texts.get(id)!, score }));
  }

  private bm25(owner: number, query: string, limit: number, files?: Set<string>) {
    const terms = queryTerms(query);
    if (!terms.length) return [];
    const match = `owner : "${owner}" AND terms : (${anyOf(terms)})`;
    type Row = { id: number; file: string; text: string; rank: number };
    if (!files) {
      // Ranked in the index alone; only the best rows are read from the chunks table.
      return this.db
        .query<Row, [string, number]>(
          `SELECT c.id, c.file, c.text, f.rank FROM
             (SELECT rowid, rank FROM kb_fts WHERE kb_fts MATCH ? AND rank MATCH 'bm25(1.0, 0.0)' ORDER BY rank LIMIT ?) f
           JOIN kb_chunks c ON c.id = f.rowid ORDER BY f.rank`,
        )
        .all(match, limit);
    }
    // The names as one JSON parameter: a list of any length stays within SQLite's limit on parameters.
    return this.db
      .query<Row, [string, string, number]>(
        `SELECT c.id, c.file, c.text, bm25(kb_fts, 1.0, 0.0) AS rank FROM kb_fts JOIN kb_chunks c ON c.id = kb_fts.rowid
         WHERE kb_fts MATCH ? AND c.file IN (SELECT value FROM json_each(?)) ORDER BY rank LIMIT ?`,
      )
      .all(match, JSON.stringify([...files]), limit);
  }

  private chunksById(ids: number[]): Map<number, { file: string; text: string }> {
    if (!ids.length) return new Map();
    const rows = this.db
      .query<{ id: number; file: string; text: string }, number[]>(`SELECT id, file, text FROM kb_chunks WHERE id IN (${ids.map(() => "?").join(", ")})`)
      .all(...ids);
    return new Map(rows.map((r) => [r.id, { file: r.file, text: r.text }]));
  }

  /** The user's chunks closest to `vector` by cosine similarity (brute force over a cached matrix of unit vectors). */
  private nearest(uuid: string, owner: number, vector: number[], limit: number, files?: Set<string>) {
    const vectors = this.vectorsOf(uuid, owner, vector.length);
    if (!vectors.ids.length) return [];
    const query = unit(Float32Array.from(vector));
    const { dim, matrix } = vectors;
    // The best `limit` rows, kept sorted as they are found: no array of every score, no sort of it.
    const best: { id: number; score: number }[] = [];
    for (let row = 0; row < vectors.ids.length; row++) {
      if (files && !files.has(vectors.files[row])) continue;
      let dot = 0;
      for (let i = 0, base = row * dim; i < dim; i++) dot += matrix[base + i] * query[i];
      if (best.length === limit && dot <= best[limit - 1].score) continue;
      if (best.length === limit) best.pop();
      let at = best.length;
      while (at > 0 && best[at - 1].score < dot) at--;
      best.splice(at, 0, { id: vectors.ids[row], score: dot });
    }
    return best;
  }

  private vectorsOf(uuid: string, owner: number, dim: number): Vectors {
    const cached = this.vectorCache.get(uuid);
    if (cached && cached.dim === dim) return cached;
    const rows = this.db
      .query<{ id: number; file: string; vector: Uint8Array }, [number, string]>(
        `SELECT c.id, c.file, c.vector FROM kb_chunks c JOIN kb_files f ON f.owner = c.owner AND f.name = c.file
         WHERE c.owner = ? AND f.embed_key = ? AND c.vector IS NOT NULL`,
      )
      .all(owner, this.embedder!.key)
      .filter((r) => r.vector.byteLength === dim * 4);
    const matrix = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => matrix.set(unit(new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength))), i * dim));
    const vectors = { ids: rows.map((r) => r.id), files: rows.map((r) => r.file), dim, matrix };
    // A few users' matrices stay in memory; the oldest goes first.
    if (this.vectorCache.size >= 8) this.vectorCache.delete(this.vectorCache.keys().next().value!);
    this.vectorCache.set(uuid, vectors);
    return vectors;
  }
}

function unit(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] /= norm;
  return vector;
}
