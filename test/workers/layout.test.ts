/** Layouts are validated at start, and every error names the layout file and the field. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadLayout, type LoadedLayout } from "../../workers/runtime/load-layout.ts";
import { repoRoot } from "../support/project.ts";
import { removeDir, tempDir } from "./support.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

async function load(yaml: string, files: Record<string, string> = {}): Promise<LoadedLayout> {
  const dir = tempDir("layout-");
  dirs.push(dir);
  writeFileSync(join(dir, "layout.yaml"), yaml);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return loadLayout(dir, join(dir, "layout.yaml"), {});
}

async function loadError(yaml: string, files: Record<string, string> = {}): Promise<string> {
  try {
    const layout = await load(yaml, files);
    await layout.kernel.stop();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the layout loaded");
}

async function answer(layout: LoadedLayout, history: { msg: string; role: "user" | "bot" }[]): Promise<string> {
  let out = "";
  for await (const piece of layout.process.process(history, new AbortController().signal)) out += piece;
  return out;
}

const contract = resolve(repoRoot, "workers/runtime/contract.ts");

describe("layout validation", () => {
  const cases: [string, string, RegExp][] = [
    ["wrong version", "version: 2\nllm: {plugin: echo}", /layout\.yaml: version: expected 1/i],
    ["neither llm nor process", "version: 1", /give either `llm`/],
    ["both llm and process", "version: 1\nllm: {plugin: echo}\noverride-process: {module: x.ts}", /not both or neither/],
    ["plugin and module in one entry", "version: 1\nllm: {plugin: echo, module: x.ts}", /layout\.yaml: llm: name exactly one/],
    ["unknown key", "version: 1\nllm: {plugin: echo}\nfilters: []", /layout\.yaml: filters: unknown field/],
    ["unknown plugin", "version: 1\nllm: {plugin: nosuch}", /layout\.yaml: llm\.plugin: unknown plugin 'nosuch'/],
    ["filter as llm", "version: 1\nllm: {plugin: opencc}", /llm\.plugin: 'opencc' is a filter plugin; expected a model plugin/],
    ["model as filter", "version: 1\nllm: {plugin: echo}\negress-filters: [{plugin: openai}]", /egress-filters\[0\]\.plugin: 'openai' is a model plugin; expected a filter plugin/],
    ["bad model args", "version: 1\nllm: {plugin: echo, args: {chunks: many}}", /layout\.yaml: llm\.args\.chunks: expected integer/],
    ["bad filter args", "version: 1\nllm: {plugin: echo}\negress-filters: [{plugin: opencc, args: {conversion: zz}}]", /egress-filters\[0\]\.args\.conversion/],
    ["unknown filter arg", "version: 1\nllm: {plugin: echo}\ningress-filters: [{plugin: opencc, args: {convert: s2t}}]", /ingress-filters\[0\]\.args\.convert: unknown field/],
    ["bad regex", "version: 1\nllm: {plugin: echo}\ningress-filters: [{plugin: regex, args: {pattern: '('}}]", /ingress-filters\[0\]\.args\.pattern: not a valid regular expression/],
    ["module outside the folder", "version: 1\noverride-process: {module: ../../x.ts}", /override-process\.module: must be a file inside/],
    ["missing module", "version: 1\noverride-process: {module: nothere.ts}", /override-process\.module: cannot load nothere\.ts/],
    ["process given as plugin", "version: 1\noverride-process: {plugin: echo}", /override-process\.plugin: a process is a module/],
  ];
  for (const [what, yaml, expected] of cases) {
    test(what, async () => expect(await loadError(yaml)).toMatch(expected));
  }

  test("a module of the wrong kind", async () => {
    const module = `import { defineWorkerModule } from ${JSON.stringify(contract)};\nexport default defineWorkerModule({ kind: "filter", create: () => ({ ingress: (r) => r, egress: () => ({ write: (t) => t, flush: () => "" }) }) });`;
    expect(await loadError("version: 1\noverride-process: {module: f.ts}", { "f.ts": module })).toMatch(/override-process\.module: f\.ts is a filter module; expected a process module/);
  });

  test("a module's args are validated by its schema", async () => {
    expect(await loadError("version: 1\noverride-process: {module: slow.ts, args: {delay_ms: -1}}", { "slow.ts": `export { default } from ${JSON.stringify(resolve(repoRoot, "workers/slow-reflect/slow-reflect.ts"))};` })).toMatch(
      /override-process\.args\.delay_ms/,
    );
  });
});

describe("pipelines", () => {
  test("the example: OpenCC s2twp around the echo model", async () => {
    const layout = await loadLayout(resolve(repoRoot, "workers/example"), resolve(repoRoot, "workers/example/layout.yaml"), {});
    try {
      expect(await answer(layout, [{ msg: "我用鼠标打开软件", role: "user" }])).toBe("我用滑鼠開啟軟體");
      expect(await answer(layout, [{ msg: "软件", role: "user" }, { msg: "ok", role: "bot" }, { msg: "网络", role: "user" }])).toBe("網路");
      expect(layout.usesDefaultProcess).toBe(true);
      expect(layout.mainClass).toBe("echo");
    } finally {
      await layout.kernel.stop();
    }
  });

  test("filters run in order on both sides, and one plugin serves entries with different args", async () => {
    const layout = await load(`version: 1
llm: {plugin: echo, args: {chunks: 7}}
ingress-filters:
  - {plugin: opencc, args: {conversion: t2s}}
  - {plugin: regex, args: {pattern: "\\\\d{4}", replacement: "####", egress: false}}
egress-filters:
  - {plugin: opencc, args: {conversion: s2twp}}
  - {plugin: regex, args: {pattern: "滑鼠", replacement: "[mouse]", ingress: false}}
`);
    try {
      // ingress: 滑鼠 (t2s keeps it), 1234 → ####; egress: s2twp then the mouse redaction
      expect(await answer(layout, [{ msg: "我用滑鼠打開軟體 1234", role: "user" }])).toBe("我用[mouse]開啟軟體 ####");
    } finally {
      await layout.kernel.stop();
    }
  });

  test("an override process from the worker's folder", async () => {
    const dir = resolve(repoRoot, "workers/slow-reflect");
    const layout = await load("version: 1\noverride-process: {module: slow.ts, args: {delay_ms: 0}}", {
      "slow.ts": `export { default } from ${JSON.stringify(join(dir, "slow-reflect.ts"))};`,
    });
    try {
      expect(await answer(layout, [{ msg: "hi there", role: "user" }])).toBe("hi there");
      expect(layout.usesDefaultProcess).toBe(false);
    } finally {
      await layout.kernel.stop();
    }
  });
});
