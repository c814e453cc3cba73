/**
 * The knowledge store beyond the upload route: hybrid ranking (BM25 fused with cosine similarity by reciprocal rank)
 * with an embeddings model of the test's own (a ModelClient whose embed is a deterministic bag of words with a few
 * synonyms folded together, so that vectors find what words alone do not), embedding failures at upload and at query
 * time, the start-up sweep of files no record claims, the index transaction, chunking and CJK terms.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { chunkText } from "../../plugins/services/assistant/knowledge/chunk.ts";
import { extract, MAX_DOCX_UNZIPPED_BYTES } from "../../plugins/services/assistant/knowledge/extract.ts";
import { invalidName } from "../../plugins/services/assistant/knowledge/files.ts";
import type { KnowledgeBase } from "../../plugins/services/assistant/knowledge/contract.ts";
import { KnowledgeStore } from "../../plugins/services/assistant/knowledge/store.ts";
import { indexTerms, queryTerms } from "../../plugins/services/assistant/knowledge/terms.ts";
import { repoRoot, tempProject } from "../support/project.ts";

/** A model plugin offering embed: 64 buckets of hashed words, synonyms first mapped to one word. */
export const hashEmbedPlugin = `{
  name: "hashembed",
  kind: "model",
  version: "1.0.0",
  setup() {
    const synonyms = { automobile: "car", vehicle: "car", physician: "doctor", medic: "doctor", ocean: "sea", marine: "sea" };
    const embed = async (input, options) => {
      globalThis.__hashembedCalls = (globalThis.__hashembedCalls ?? 0) + 1;
      // An upstream that never answers and ignores the caller's signal.
      if (input.some((text) => text.includes("stall-embedding"))) return new Promise(() => {});
      return input.map((text) => {
        if (text.includes("explode-embedding")) throw new ModelError("upstream said no", 503);
        const vector = new Array(64).fill(0);
        for (const raw of text.toLowerCase().match(/\\p{L}+/gu) ?? []) {
          const word = synonyms[raw] ?? raw;
          let h = 2166136261;
          for (const c of word) h = Math.imul(h ^ c.codePointAt(0), 16777619) >>> 0;
          vector[h % 64] += 1;
        }
        return vector;
      });
    };
    return { client: { name: "hashembed", supportsTools: false, chat: async function* () {}, models: async () => [], embed } };
  },
}`;

function writeHashEmbed(project: ReturnType<typeof tempProject>) {
  const errors = JSON.stringify(join(repoRoot, "core", "kinds", "model.ts"));
  project.plugin("extra/models", "hashembed", hashEmbedPlugin, `import { ModelError } from ${errors};`);
}

async function upload(base: string, uuid: string, files: File[]) {
  const form = new FormData();
  form.append("uuid_str", uuid);
  for (const file of files) form.append("files", file);
  const res = await fetch(`${base}/v1/files`, { method: "POST", body: form });
  return { status: res.status, body: (await res.json()) as any };
}

const docs = () => [
  new File(["The car needs new brake pads and an oil change before winter."], "garage.txt"),
  new File(["Sourdough bread rises overnight in a cool kitchen."], "bakery.txt"),
  new File(["The doctor sees patients on Tuesday mornings at the clinic."], "clinic.txt"),
];

describe("hybrid ranking with an embeddings model", () => {
  const project = tempProject("rock-hybrid-");
  const data = join(project.root, "data");
  let kernel: Kernel;
  let base: string;
  let kb: KnowledgeBase;

  beforeAll(async () => {
    writeHashEmbed(project);
    const config = project.config(`data_dir: ${data}
plugin_dirs: [${join(project.root, "extra")}]
plugins:
  echo: {}
  hashembed: {}
  assistant:
    port: 0
    knowledge:
      embeddings: {model_plugin: hashembed, model: bow-64, batch_size: 2, timeout_ms: 400, query_timeout_ms: 300}
`);
    kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
    await kernel.start();
    base = kernel.server("assistant")!.url;
    kb = kernel.instance<{ knowledge: KnowledgeBase }>("assistant")!.knowledge;
  });

  afterAll(async () => {
    await kernel?.stop();
    project.remove();
  });

  test("chunks are stored with their vectors (batched by batch_size) and listed as embedded", async () => {
    const calls = (globalThis as any).__hashembedCalls ?? 0;
    const { status, body } = await upload(base, "erin", docs());
    expect(status).toBe(200);
    expect(body.output.files).toHaveLength(3);
    expect((globalThis as any).__hashembedCalls - calls).toBe(2); // 3 chunks in batches of 2
    const listed = (await (await fetch(`${base}/v1/files?uuid_str=erin`)).json()) as any;
    expect(listed.output.files.every((f: any) => f.embedded === true)).toBe(true);
    const db = new Database(join(data, "assistant.sqlite"), { readonly: true });
    const rows = db.query<{ n: number; bytes: number }, []>("SELECT count(*) AS n, min(length(vector)) AS bytes FROM kb_chunks").get()!;
    db.close();
    expect(rows).toEqual({ n: 3, bytes: 64 * 4 });
  });

  test("a query that shares no word with a chunk finds it through the vectors", async () => {
    const hits = await kb.search("erin", "automobile maintenance", { limit: 2 });
    expect(hits[0].file).toBe("garage.txt");
    const physician = await kb.search("erin", "when does the physician work", { limit: 1 });
    expect(physician[0].file).toBe("clinic.txt");
  });

  test("a chunk first in both lists is first; scores are reciprocal-rank sums", async () => {
    const hits = await kb.search("erin", "sourdough bread", { limit: 3 });
    expect(hits[0].file).toBe("bakery.txt");
    expect(hits[0].score).toBeCloseTo(2 / 61, 6);
    for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score);
  });

  test("files filters the vector candidates too", async () => {
    const hits = await kb.search("erin", "automobile", { files: ["bakery.txt", "clinic.txt"], limit: 3 });
    expect(hits.map((h) => h.file)).not.toContain("garage.txt");
  });

  test("a query whose embedding fails is ranked by BM25 alone", async () => {
    const hits = await kb.search("erin", "sourdough explode-embedding", { limit: 3 });
    expect(hits.map((h) => h.file)).toEqual(["bakery.txt"]);
  });

  test("a query whose embedding does not come within query_timeout_ms is ranked by BM25 alone, without waiting longer", async () => {
    const began = performance.now();
    const hits = await kb.search("erin", "sourdough stall-embedding", { limit: 3 });
    expect(hits.map((h) => h.file)).toEqual(["bakery.txt"]);
    expect(performance.now() - began).toBeGreaterThanOrEqual(290);
    expect(performance.now() - began).toBeLessThan(3000);
  });

  test("an upload whose embeddings do not come within timeout_ms is a 502 naming the limit, and nothing is stored", async () => {
    const { status, body } = await upload(base, "lena", [new File(["stall-embedding forever"], "slow.txt")]);
    expect(status).toBe(502);
    expect(body.error.message).toBe("embeddings model 'hashembed/bow-64' failed: no embeddings within 400 ms (knowledge.embeddings.timeout_ms); nothing was stored");
    expect(await kb.hasIndex("lena")).toBe(false);
    expect(existsSync(join(data, "plugins", "assistant", "knowledges", "lena"))).toBe(false);
  });

  test("an upload whose embedding fails is a 502 naming the model, and nothing is stored", async () => {
    const { status, body } = await upload(base, "frank", [new File(["fine text"], "a.txt"), new File(["explode-embedding here"], "b.txt")]);
    expect(status).toBe(502);
    expect(body.error.message).toContain("embeddings model 'hashembed/bow-64' failed");
    expect(existsSync(join(data, "plugins", "assistant", "knowledges", "frank"))).toBe(false);
    expect(await kb.hasIndex("frank")).toBe(false);
    expect(readdirSync(join(data, "plugins", "assistant", "knowledge-incoming"))).toEqual([]);
  });
});

describe("configuration and restarts", () => {
  test("embeddings from a model plugin without embed stop the start, naming the field and the plugin", async () => {
    const project = tempProject("rock-noembed-");
    try {
      const config = project.config(`data_dir: ${join(project.root, "data")}
plugins:
  echo: {}
  assistant:
    port: 0
    knowledge:
      embeddings: {model_plugin: echo}
`);
      const kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
      let failure = "";
      try {
        await kernel.start();
      } catch (error) {
        failure = String(error);
      } finally {
        await kernel.stop();
      }
      expect(failure).toContain("knowledge.embeddings.model_plugin: model plugin 'echo' offers no embeddings");
    } finally {
      project.remove();
    }
  });

  test("at start, temporary files and files no record claims (a crash between rename and commit) are removed", async () => {
    const project = tempProject("rock-sweep-");
    const data = join(project.root, "data");
    const dir = join(data, "plugins", "assistant");
    const config = project.config(`data_dir: ${data}\nplugins:\n  echo: {}\n  assistant:\n    port: 0\n`);
    const start = async () => {
      const kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
      await kernel.start();
      return kernel;
    };
    try {
      let kernel = await start();
      expect((await upload(kernel.server("assistant")!.url, "gina", [new File(["kept words"], "kept.txt")])).status).toBe(200);
      await kernel.stop();
      writeFileSync(join(dir, "knowledges", "gina", "orphan.txt"), "no record");
      mkdirSync(join(dir, "knowledges", "henry"));
      writeFileSync(join(dir, "knowledges", "henry", "lost.txt"), "no record");
      writeFileSync(join(dir, "knowledge-incoming", "x.part"), "half");
      writeFileSync(join(dir, "knowledges", "stray-file"), "not a user's directory");
      kernel = await start();
      try {
        expect(readdirSync(join(dir, "knowledges", "gina"))).toEqual(["kept.txt"]);
        expect(readdirSync(join(dir, "knowledges")).sort()).toEqual(["gina"]);
        expect(readdirSync(join(dir, "knowledge-incoming"))).toEqual([]);
        const kb = kernel.instance<{ knowledge: KnowledgeBase }>("assistant")!.knowledge;
        expect((await kb.search("gina", "kept words")).map((h) => h.file)).toEqual(["kept.txt"]);
      } finally {
        await kernel.stop();
      }
    } finally {
      project.remove();
    }
  });
});

describe("extraction deadline", () => {
  test("a file whose extraction runs past knowledge.extract_timeout_ms is a 400 naming it; the next upload works", async () => {
    const project = tempProject("rock-deadline-");
    const data = join(project.root, "data");
    const config = project.config(`data_dir: ${data}
plugins:
  echo: {}
  assistant:
    port: 0
    knowledge: {extract_timeout_ms: 300, max_file_bytes: 16777216}
`);
    const kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
    await kernel.start();
    try {
      const base = kernel.server("assistant")!.url;
      // Seconds of html-to-text work: on the server's own thread no timer could cut it short.
      const slow = new File(["<html><body>", "<div><p>many words in many paragraphs</p></div>".repeat(200_000), "</body></html>"], "huge.html");
      const began = performance.now();
      const { status, body } = await upload(base, "kate", [new File(["fine"], "fine.txt"), slow]);
      expect(status).toBe(400);
      expect(body.error.message).toBe("file 'huge.html': took longer than 300 ms to extract (knowledge.extract_timeout_ms)");
      expect(performance.now() - began).toBeLessThan(5000);
      expect(existsSync(join(data, "plugins", "assistant", "knowledges", "kate"))).toBe(false);
      const next = await upload(base, "kate", [new File(["<p>quiet harbour at dawn</p>"], "small.html")]);
      expect(next.status).toBe(200);
      const kb = kernel.instance<{ knowledge: KnowledgeBase }>("assistant")!.knowledge;
      expect((await kb.search("kate", "harbour dawn")).map((h) => h.file)).toEqual(["small.html"]);
    } finally {
      await kernel.stop();
      project.remove();
    }
  }, 30_000);
});

describe("extractors on the fixtures", () => {
  const fixtures = join(import.meta.dir, "fixtures", "knowledge");
  const read = (name: string) => new Uint8Array(readFileSync(join(fixtures, name)));
  test("pdf pages, docx paragraphs (with CJK), html text, json lines, csv and markdown as written", async () => {
    expect(await extract("lighthouse.pdf", "pdf", read("lighthouse.pdf"))).toBe(
      "Lighthouse maintenance log\nThe Vaskholm lighthouse lens was polished on the third of March.\n\nSecond page\nIts fog signal sounds every thirty seconds during heavy weather.",
    );
    const docx = await extract("orchard.docx", "docx", read("orchard.docx"));
    expect(docx).toContain("Orchard report");
    expect(docx).toContain("The quince trees in the north orchard were grafted onto hawthorn rootstock.");
    expect(docx).toContain("果园的榅桲树在四月开花。");
    const html = await extract("tram.html", "html", read("tram.html"));
    expect(html).toContain("Harbour tram line");
    expect(html).toContain("The harbour tram leaves Quay Square every twelve minutes.");
    expect(html).not.toContain("secretScript");
    expect(html).not.toContain("color: red");
    expect(await extract("recipe.json", "json", read("recipe.json"))).toBe(
      "dish: saffron risotto\nservings: 4\nsteps[0].text: Toast the carnaroli rice in butter\nsteps[1].text: Add the saffron infusion slowly",
    );
    expect(await extract("rivers.csv", "csv", read("rivers.csv"))).toBe("city,river,bridges\nLjubljana,Ljubljanica,17\n布达佩斯,多瑙河,9\n");
    expect(await extract("glacier.md", "md", read("glacier.md"))).toContain("- The **Brennfjell glacier** retreated 41 metres since the last survey.");
    expect(await extract("gbk.txt", "txt", new Uint8Array([0xc4, 0xe3, 0xba, 0xc3]))).toBe("你好");
  });

  test("a docx whose parts declare more than the limit unzipped is refused before mammoth inflates it", async () => {
    const bomb = read("orchard.docx");
    const view = new DataView(bomb.buffer, bomb.byteOffset, bomb.byteLength);
    // The central directory entry of word/document.xml, its uncompressed size made 300 MB.
    const name = new TextEncoder().encode("word/document.xml");
    for (let at = 0; at + 46 < bomb.length; at++) {
      if (view.getUint32(at, true) === 0x02014b50 && bomb.subarray(at + 46, at + 46 + name.length).every((b, i) => b === name[i])) {
        view.setUint32(at + 24, 300 * 1024 * 1024, true);
      }
    }
    await expect(extract("bomb.docx", "docx", bomb)).rejects.toThrow(/^file 'bomb.docx': unzips to 3146\d{5} bytes, more than the 268435456 a docx may/);
    expect(MAX_DOCX_UNZIPPED_BYTES).toBeLessThan(300 * 1024 * 1024);
  });
});

describe("the index transaction", () => {
  test("when moving a file into place fails, none of the upload's rows stay", async () => {
    const store = new KnowledgeStore(new Database(":memory:"), undefined);
    const file = (name: string) => ({ name, type: "txt", bytes: 5, chunks: [`words of ${name}`] });
    expect(store.add("ida", [file("one.txt")], () => {})).toEqual(["one.txt"]);
    expect(() =>
      store.add("ida", [file("two.txt"), file("three.txt")], (f) => {
        if (f.name === "three.txt") throw new Error("disk full");
      }),
    ).toThrow("disk full");
    expect(store.list("ida").map((f) => f.name)).toEqual(["one.txt"]);
    expect(await store.search("ida", "words two three", { limit: 5 })).toEqual([expect.objectContaining({ file: "one.txt" })]);
  });
});

describe("vector ranking", () => {
  test("the cosine ranking equals a full sort of every chunk's similarity", async () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
    const vectors = new Map<string, number[]>();
    const vectorOf = (text: string) => vectors.get(text) ?? vectors.set(text, Array.from({ length: 16 }, random)).get(text)!;
    const client = { name: "fixed", supportsTools: false, chat: async function* () {}, models: async () => [], embed: async (texts: string[]) => texts.map(vectorOf) };
    const store = new KnowledgeStore(new Database(":memory:"), { client, key: "fixed/16", batchSize: 8, timeoutMs: 1000 });
    const files = Array.from({ length: 60 }, (_, i) => ({ name: `f${i}.txt`, type: "txt", bytes: 1, chunks: [`alpha${i}`], vectors: [vectorOf(`alpha${i}`)] }));
    store.add("uma", files, () => {});
    const query = vectorOf("nomatch");
    const cosine = (v: number[]) => v.reduce((sum, x, i) => sum + x * query[i], 0) / Math.hypot(...v) / Math.hypot(...query);
    const expected = files.map((f) => ({ file: f.name, similarity: cosine(f.vectors[0]) })).sort((a, b) => b.similarity - a.similarity);
    // No chunk has the query's word: the order is the vectors' alone.
    const hits = await store.search("uma", "nomatch", { limit: 12 });
    expect(hits.map((h) => h.file)).toEqual(expected.slice(0, 12).map((e) => e.file));
    // A limit that is no whole number is taken whole, or as the default of 5.
    expect(await store.search("uma", "nomatch", { limit: 2.7 })).toHaveLength(2);
    expect(await store.search("uma", "nomatch", { limit: Number.NaN })).toHaveLength(5);
    expect(await store.search("uma", "alpha3", { limit: -4 })).toHaveLength(1);
  });
});

describe("file names", () => {
  test("only a plain name is a file name: no directory part, no dots alone, no control characters, at most 255 bytes", () => {
    for (const name of ["notes.txt", "知识库.md", ".hidden.txt", "a b (1).pdf", "x".repeat(251) + ".txt"]) expect(invalidName(name)).toBeUndefined();
    expect(invalidName("")).toBe("the file name is empty");
    expect(invalidName("a/b.txt")).toBe("'a/b.txt' has a directory part");
    expect(invalidName("C:\\temp\\x.txt")).toContain("has a directory part");
    expect(invalidName("..")).toBe("'..' is not a file name");
    expect(invalidName("a\u0000b.txt")).toBe("'a\\u0000b.txt' has control characters");
    expect(invalidName("名".repeat(86) + ".txt")).toContain("is longer than 255 bytes");
  });
});

describe("chunks and terms", () => {
  test("chunks stay within the size, end at sentences, and repeat the previous chunk's last sentences", () => {
    const sentences = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} is here.`);
    const chunks = chunkText(sentences.join(" "), { size: 120, overlap: 40 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(120);
      expect(chunk).toMatch(/\.$/);
    }
    for (let i = 1; i < chunks.length; i++) {
      const lastOfPrevious = chunks[i - 1].split(/(?<=\.) /).at(-1)!;
      expect(chunks[i].startsWith(lastOfPrevious)).toBe(true);
    }
    // Without overlap nothing is lost or repeated.
    expect(chunkText(sentences.join(" "), { size: 120, overlap: 0 }).join(" ")).toBe(sentences.join(" "));
  });

  test("CJK sentences end at 。！？, and a run longer than a chunk is cut", () => {
    const chunks = chunkText("火山是岩浆喷出地表形成的。它们多在板块边界！" + "长".repeat(50), { size: 20, overlap: 0 });
    expect(chunks[0]).toBe("火山是岩浆喷出地表形成的。");
    expect(chunks.every((c) => c.length <= 20)).toBe(true);
    expect(chunks.join("")).toBe("火山是岩浆喷出地表形成的。它们多在板块边界！" + "长".repeat(50));
  });

  test("CJK runs are indexed and queried as bigrams; English stopwords leave the query", () => {
    expect(indexTerms("ECS实例续费")).toBe("ECS 实例 例续 续费 ");
    expect(queryTerms("How do I 续费 the ECS instance?")).toEqual(["续费", "ecs", "instance"]);
    expect(queryTerms("火")).toEqual(["火"]);
  });
});
