/**
 * `/v1/files` on a real kernel and HTTP on loopback: each fixture type uploaded, stored and indexed, found again
 * through the KnowledgeBase the agent loop uses; re-upload, files filter, list and delete; and each bad input
 * refused with a 4xx naming what is wrong, leaving no file on disk and no row in the index.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { KnowledgeBase } from "../../plugins/services/assistant/knowledge/contract.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const fixtures = join(import.meta.dir, "fixtures", "knowledge");
const fixture = (name: string, as = name) => new File([readFileSync(join(fixtures, name))], as);
const project = tempProject("rock-files-");
const data = join(project.root, "data");
const knowledgeDir = join(data, "plugins", "assistant", "knowledges");
let kernel: Kernel;
let base: string;
let kb: KnowledgeBase;

beforeAll(async () => {
  const config = project.config(`data_dir: ${data}
plugins:
  echo: {}
  assistant:
    port: 0
    knowledge:
      max_file_bytes: 16384
      max_files_per_request: 10
      max_files_per_user: 12
      chunk_chars: 300
      chunk_overlap: 60
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

async function upload(uuid: string | undefined, files: File[]) {
  const form = new FormData();
  if (uuid !== undefined) form.append("uuid_str", uuid);
  for (const file of files) form.append("files", file);
  const res = await fetch(`${base}/v1/files`, { method: "POST", body: form });
  return { status: res.status, body: (await res.json()) as any };
}

/** Rows of the index that belong to `uuid`, and the files on disk for it (and in the incoming dir). */
function leftovers(uuid: string) {
  const db = new Database(join(data, "assistant.sqlite"), { readonly: true });
  try {
    const owner = db.query<{ id: number }, [string]>("SELECT id FROM kb_owners WHERE uuid = ?").get(uuid)?.id ?? -1;
    const count = (sql: string) => (db.query(sql).get(owner) as { n: number }).n;
    return {
      files: count("SELECT count(*) AS n FROM kb_files WHERE owner = ?"),
      chunks: count("SELECT count(*) AS n FROM kb_chunks WHERE owner = ?"),
      terms: count("SELECT count(*) AS n FROM kb_fts WHERE owner = CAST(? AS TEXT)"),
      onDisk: existsSync(join(knowledgeDir, uuid)) ? readdirSync(join(knowledgeDir, uuid)) : [],
      incoming: readdirSync(join(data, "plugins", "assistant", "knowledge-incoming")),
    };
  } finally {
    db.close();
  }
}
const nothingFor = { files: 0, chunks: 0, terms: 0, onDisk: [], incoming: [] };

const all = ["apiary.txt", "glacier.md", "tram.html", "recipe.json", "rivers.csv", "lighthouse.pdf", "orchard.docx"];

describe("upload, index, retrieve", () => {
  test("every supported type is stored under knowledges/<uuid_str>/ and answered with the original's output.files", async () => {
    const { status, body } = await upload("alice", all.map((name) => fixture(name)));
    expect(status).toBe(200);
    expect(body.message).toBe("");
    expect(typeof body.request_id).toBe("string");
    expect(body.output.status).toBe("upload files success");
    expect(body.output.files).toEqual(all.map((name) => `knowledges/alice/${name}`));
    expect(readdirSync(join(knowledgeDir, "alice")).sort()).toEqual([...all].sort());
    expect(readFileSync(join(knowledgeDir, "alice", "lighthouse.pdf"))).toEqual(readFileSync(join(fixtures, "lighthouse.pdf")));
    expect(await kb.hasIndex("alice")).toBe(true);
    expect(await kb.hasIndex("nobody")).toBe(false);
  });

  const facts: [string, string, string][] = [
    ["when was the lighthouse lens polished", "lighthouse.pdf", "third of March"],
    ["how often does the fog signal sound", "lighthouse.pdf", "thirty seconds"],
    ["what rootstock were the quince trees grafted onto", "orchard.docx", "hawthorn rootstock"],
    ["榅桲什么时候开花", "orchard.docx", "四月开花"],
    ["how are the queens marked", "apiary.txt", "blue paint"],
    ["how far did the Brennfjell glacier retreat", "glacier.md", "41 metres"],
    ["how often does the harbour tram leave", "tram.html", "twelve minutes"],
    ["saffron infusion", "recipe.json", "steps[1].text: Add the saffron infusion slowly"],
    ["多瑙河上有几座桥", "rivers.csv", "布达佩斯,多瑙河,9"],
  ];
  for (const [question, file, text] of facts) {
    test(`retrieval: "${question}" → ${file}`, async () => {
      const hits = await kb.search("alice", question, { limit: 3 });
      expect(hits[0]?.file).toBe(file);
      expect(hits[0].text).toContain(text);
      for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score);
    });
  }

  test("html: script and style are not indexed, link targets are dropped, headings keep their case", async () => {
    expect(await kb.search("alice", "secretScript")).toEqual([]);
    expect(await kb.search("alice", "example.invalid")).toEqual([]);
    const [hit] = await kb.search("alice", "harbour tram line", { limit: 1 });
    expect(hit.text).toContain("Harbour tram line");
  });

  test("files filters by file name; another user's files are never returned", async () => {
    const filtered = await kb.search("alice", "lighthouse lens queens marked", { files: ["apiary.txt"], limit: 5 });
    expect(filtered.length).toBeGreaterThan(0);
    for (const hit of filtered) expect(hit.file).toBe("apiary.txt");
    expect(await kb.search("alice", "lighthouse", { files: ["nope.txt"] })).toEqual([]);
    // More names than SQLite takes parameters (250,000 in Bun's build).
    const many = [...Array.from({ length: 260_000 }, (_, i) => `n${i}.txt`), "apiary.txt"];
    expect((await kb.search("alice", "queens marked", { files: many, limit: 2 }))[0].file).toBe("apiary.txt");
    expect((await upload("bob", [fixture("apiary.txt")])).status).toBe(200);
    expect(await kb.search("bob", "lighthouse lens")).toEqual([]);
    expect((await kb.search("bob", "queens")).map((h) => h.file)).toEqual(["apiary.txt"]);
  });

  test("a name the user already has is kept, not overwritten, and not listed in output.files (as the original)", async () => {
    const { status, body } = await upload("alice", [new File(["other text about queens"], "apiary.txt"), new File(["pottery kilns fire at 1200 degrees"], "kiln.txt")]);
    expect(status).toBe(200);
    expect(body.output.files).toEqual(["knowledges/alice/kiln.txt"]);
    expect(body.output.skipped).toEqual(["apiary.txt"]);
    expect(readFileSync(join(knowledgeDir, "alice", "apiary.txt"))).toEqual(readFileSync(join(fixtures, "apiary.txt")));
    expect((await kb.search("alice", "other text")).some((h) => h.text.includes("other text"))).toBe(false);
  });

  test("a UTF-8 file name as Python's requests sends it (raw in filename=\"…\") is kept", async () => {
    const boundary = "rock-files-boundary";
    const body = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="uuid_str"\r\n\r\nzoe\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="知识库.txt"\r\nContent-Type: text/plain\r\n\r\n云服务器实例到期前需要续费。\r\n--${boundary}--\r\n`,
    );
    const res = await fetch(`${base}/v1/files`, { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).output.files).toEqual(["knowledges/zoe/知识库.txt"]);
    expect(readdirSync(join(knowledgeDir, "zoe"))).toEqual(["知识库.txt"]);
    expect((await kb.search("zoe", "怎么续费"))[0].file).toBe("知识库.txt");
    expect((await fetch(`${base}/v1/files/${encodeURIComponent("知识库.txt")}?uuid_str=zoe`, { method: "DELETE" })).status).toBe(200);
  });

  test("two uploads of one new name at once: one stores it, the other skips it", async () => {
    const [a, b] = await Promise.all([upload("yan", [fixture("glacier.md")]), upload("yan", [fixture("glacier.md")])]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([...a.body.output.files, ...b.body.output.files]).toEqual(["knowledges/yan/glacier.md"]);
    expect([...a.body.output.skipped, ...b.body.output.skipped]).toEqual(["glacier.md"]);
    const left = leftovers("yan");
    expect(left.files).toBe(1);
    expect(left.chunks).toBe(left.terms);
    expect(left.onDisk).toEqual(["glacier.md"]);
    expect(left.incoming).toEqual([]);
    expect((await fetch(`${base}/v1/files/glacier.md?uuid_str=yan`, { method: "DELETE" })).status).toBe(200);
  });

  test("list answers each file with its size, type and chunk count", async () => {
    const res = await fetch(`${base}/v1/files?uuid_str=alice`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    const names = body.output.files.map((f: any) => f.name);
    expect(names).toEqual([...all, "kiln.txt"].sort());
    const pdf = body.output.files.find((f: any) => f.name === "lighthouse.pdf");
    expect(pdf).toMatchObject({ path: "knowledges/alice/lighthouse.pdf", type: "pdf", bytes: readFileSync(join(fixtures, "lighthouse.pdf")).length, embedded: false });
    expect(pdf.chunks).toBeGreaterThan(0);
    expect(((await (await fetch(`${base}/v1/files?uuid_str=nobody`)).json()) as any).output.files).toEqual([]);
  });

  test("delete removes the file and its chunks; the last one leaves no index", async () => {
    const res = await fetch(`${base}/v1/files/lighthouse.pdf?uuid_str=alice`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).output).toEqual({ status: "delete file success", file: "lighthouse.pdf" });
    expect(existsSync(join(knowledgeDir, "alice", "lighthouse.pdf"))).toBe(false);
    expect((await kb.search("alice", "lighthouse lens fog signal")).map((h) => h.file)).not.toContain("lighthouse.pdf");
    const again = await fetch(`${base}/v1/files/lighthouse.pdf?uuid_str=alice`, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(((await again.json()) as any).error.message).toContain("lighthouse.pdf");

    expect((await fetch(`${base}/v1/files/apiary.txt?uuid_str=bob`, { method: "DELETE" })).status).toBe(200);
    expect(await kb.hasIndex("bob")).toBe(false);
    expect(leftovers("bob")).toEqual(nothingFor);
  });
});

describe("bad input: a 4xx naming the problem, nothing on disk or in the index", () => {
  const good = () => fixture("apiary.txt");

  test("a name with a directory part: the original's 400 {request_id, message: {status: 'Invalid file name'}}", async () => {
    for (const name of ["a/b.txt", "../escape.txt", "..\\win.txt"]) {
      const { status, body } = await upload("carol", [good(), new File(["x"], name)]);
      expect(status).toBe(400);
      expect(body.message).toEqual({ status: "Invalid file name" });
      expect(typeof body.request_id).toBe("string");
      expect(body.error.message).toContain(name);
    }
    expect(leftovers("carol")).toEqual(nothingFor);
    expect(existsSync(join(knowledgeDir, "escape.txt"))).toBe(false);
  });

  test("an unsupported type names the file and the supported types", async () => {
    const { status, body } = await upload("carol", [good(), new File(["MZ"], "tool.exe")]);
    expect(status).toBe(400);
    expect(body.error.message).toBe("file 'tool.exe': unsupported type (supported: txt, md, markdown, html, htm, json, csv, pdf, docx)");
    expect(leftovers("carol")).toEqual(nothingFor);
  });

  test("a corrupt pdf names the file; the good file of the same upload is not kept", async () => {
    const { status, body } = await upload("carol", [good(), fixture("corrupt.pdf")]);
    expect(status).toBe(400);
    expect(body.error.message).toStartWith("file 'corrupt.pdf': is not a readable pdf");
    expect(leftovers("carol")).toEqual(nothingFor);
  });

  test("a docx that is not a zip, invalid JSON, a file without text, bytes that are not text", async () => {
    const cases: [File, string][] = [
      [new File(["not a zip"], "broken.docx"), "file 'broken.docx': is not a readable docx"],
      [new File(['{"a": '], "broken.json"), "file 'broken.json': is not valid JSON"],
      [new File(["  \n\n "], "empty.txt"), "file 'empty.txt': has no text to index"],
      [new File([new Uint8Array([0xff, 0xff, 0xff, 0x00, 0x81])], "binary.txt"), "file 'binary.txt': is not text in UTF-8, UTF-16 or GB18030"],
    ];
    for (const [file, message] of cases) {
      const { status, body } = await upload("carol", [good(), file]);
      expect(status).toBe(400);
      expect(body.error.message).toStartWith(message);
    }
    expect(leftovers("carol")).toEqual(nothingFor);
  });

  test("a file above knowledge.max_file_bytes is a 413 naming the limit", async () => {
    const { status, body } = await upload("carol", [good(), new File(["a".repeat(16385)], "big.txt")]);
    expect(status).toBe(413);
    expect(body.error.message).toBe("file 'big.txt' is 16385 bytes, more than the limit of 16384 bytes (knowledge.max_file_bytes)");
    expect(leftovers("carol")).toEqual(nothingFor);
  });

  test("more files than knowledge.max_files_per_request, or per user, are refused naming the limit", async () => {
    const many = Array.from({ length: 11 }, (_, i) => new File([`note ${i}`], `n${i}.txt`));
    const { status, body } = await upload("carol", many);
    expect(status).toBe(400);
    expect(body.error.message).toBe("11 files in one upload, more than the limit of 10 (knowledge.max_files_per_request)");
    expect(leftovers("carol")).toEqual(nothingFor);

    expect((await upload("dave", many.slice(0, 10))).status).toBe(200);
    const over = await upload("dave", [new File(["x"], "x1.txt"), new File(["y"], "x2.txt"), new File(["z"], "x3.txt")]);
    expect(over.status).toBe(400);
    expect(over.body.error.message).toBe("uuid_str 'dave' would have 13 files, more than the limit of 12 (knowledge.max_files_per_user)");
    expect(leftovers("dave").files).toBe(10);
  });

  test("a uuid_str with path characters is a 400 naming uuid_str, on upload, list and delete", async () => {
    for (const uuid of ["../etc", "a/b", ".", "..", ".hidden", "", "x".repeat(129)]) {
      const { status, body } = await upload(uuid, [good()]);
      expect(status).toBe(400);
      expect(body.error.message).toContain("uuid_str");
      const listed = await fetch(`${base}/v1/files?uuid_str=${encodeURIComponent(uuid)}`);
      expect(listed.status).toBe(400);
      const deleted = await fetch(`${base}/v1/files/apiary.txt?uuid_str=${encodeURIComponent(uuid)}`, { method: "DELETE" });
      expect(deleted.status).toBe(400);
    }
    expect(readdirSync(knowledgeDir).sort()).toEqual(["alice", "dave"]);
    expect(readdirSync(join(data, "plugins", "assistant")).sort()).toEqual(["knowledge-incoming", "knowledges"]);
  });

  test("missing uuid_str or files: 4xx naming the field", async () => {
    const noUuid = await upload(undefined, [good()]);
    expect(noUuid.status).toBeGreaterThanOrEqual(400);
    expect(noUuid.status).toBeLessThan(500);
    expect(JSON.stringify(noUuid.body)).toContain("uuid_str");
    const noFiles = await upload("carol", []);
    expect(noFiles.status).toBeGreaterThanOrEqual(400);
    expect(noFiles.status).toBeLessThan(500);
    expect(JSON.stringify(noFiles.body)).toContain("files");
    expect(leftovers("carol")).toEqual(nothingFor);
  });

  test("delete of a name with a directory part is the original's Invalid file name", async () => {
    const res = await fetch(`${base}/v1/files/${encodeURIComponent("../alice/apiary.txt")}?uuid_str=dave`, { method: "DELETE" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).message).toEqual({ status: "Invalid file name" });
    expect(existsSync(join(knowledgeDir, "alice", "apiary.txt"))).toBe(true);
  });
});
