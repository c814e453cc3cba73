import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestRocklet, type TestRocklet, scratchDir } from "./harness.ts";
import { available } from "../support/env.ts";
import { buildZip } from "./zip-writer.ts";

let rocklet: TestRocklet;
let small: TestRocklet;
let dir: string;

beforeAll(() => {
  rocklet = startTestRocklet();
  small = startTestRocklet({ maxUploadBytes: 64 * 1024 });
  dir = scratchDir("rocklet-upload-test-");
});
afterAll(async () => {
  await rocklet.stop();
  await small.stop();
});

async function upload(
  target: TestRocklet,
  file: Uint8Array | string,
  fields: Record<string, string>,
  filename = "payload.bin",
) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  form.append("file", new Blob([file]), filename);
  const response = await fetch(`${target.url}/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${target.token}` },
    body: form,
  });
  return { status: response.status, body: await response.json() };
}

describe("upload", () => {
  test("a plain file lands at target_path, parents created", async () => {
    const target = join(dir, "plain", "nested", "data.txt");
    const { status, body } = await upload(rocklet, "hello upload", { target_path: target, unzip: "false" }, "data.txt");
    expect(status).toBe(200);
    expect(body).toEqual({ success: true, message: "", file_name: "data.txt" });
    expect(readFileSync(target, "utf8")).toBe("hello upload");
  });

  test("binary content survives and an existing directory receives the file by name", async () => {
    const target = join(dir, "into-dir");
    mkdirSync(target);
    const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256);
    await upload(rocklet, bytes, { target_path: target }, "blob.bin");
    expect(new Uint8Array(readFileSync(join(target, "blob.bin")))).toEqual(bytes);
  });

  test("a zip is extracted into target_path (stored and deflated entries, directories, modes)", async () => {
    const archive = buildZip([
      { name: "project/" },
      { name: "project/README.md", data: "# readme\n", deflate: true },
      { name: "project/bin/run.sh", data: "#!/bin/sh\necho run\n", mode: 0o100755 },
      { name: "project/src/big.txt", data: "x".repeat(200_000), deflate: true },
      { name: "project/empty.txt", data: "" },
    ]);
    const target = join(dir, "unzipped");
    const { status, body } = await upload(rocklet, archive, { target_path: target, unzip: "true" }, "dir.zip");
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    expect(readFileSync(join(target, "project/README.md"), "utf8")).toBe("# readme\n");
    expect(readFileSync(join(target, "project/src/big.txt"), "utf8")).toBe("x".repeat(200_000));
    expect(readFileSync(join(target, "project/empty.txt"), "utf8")).toBe("");
    expect(statSync(join(target, "project/bin/run.sh")).mode & 0o777).toBe(0o755);
  });

  test("zip-slip entries refuse the whole archive before anything is written", async () => {
    for (const evil of ["../escaped.txt", "ok/../../escaped.txt", "/tmp/absolute-rocklet.txt"]) {
      const target = join(dir, "slip", String(Math.random()));
      const archive = buildZip([
        { name: "innocent.txt", data: "fine" },
        { name: evil, data: "pwned" },
      ]);
      const { status, body } = await upload(rocklet, archive, { target_path: target, unzip: "true" });
      expect(status).toBe(511);
      expect(body.rockletexception.message).toContain("outside the target directory");
      expect(existsSync(join(target, "innocent.txt"))).toBe(false);
    }
    expect(existsSync(join(dir, "slip", "escaped.txt"))).toBe(false);
    expect(existsSync("/tmp/absolute-rocklet.txt")).toBe(false);
  });

  test("a symlink inside the target cannot be used to write outside it", async () => {
    const target = join(dir, "with-link");
    const outside = join(dir, "outside");
    mkdirSync(target, { recursive: true });
    mkdirSync(outside, { recursive: true });
    symlinkSync(outside, join(target, "link"));
    const archive = buildZip([{ name: "link/file.txt", data: "through the link" }]);
    const { status } = await upload(rocklet, archive, { target_path: target, unzip: "true" });
    expect(status).toBe(511);
    expect(existsSync(join(outside, "file.txt"))).toBe(false);
  });

  test("a damaged zip is an error", async () => {
    const archive = buildZip([{ name: "a.txt", data: "abcdef", deflate: true }]);
    const damaged = new Uint8Array(archive);
    damaged[30 + "a.txt".length + 1] ^= 0xff; // inside the compressed data
    const result = await upload(rocklet, damaged, { target_path: join(dir, "damaged"), unzip: "true" });
    expect(result.status).toBe(511);
    const notZip = await upload(rocklet, "not a zip at all", { target_path: join(dir, "nz"), unzip: "true" });
    expect(notZip.body.rockletexception.message).toContain("not a zip file");
  });

  // test/env/up installs zip; under CI a missing one fails the file.
  test.skipIf(!available("zip", Bun.which("zip") ?? undefined))("an archive made by the zip CLI extracts", async () => {
    const source = scratchDir("rocklet-zip-cli-");
    mkdirSync(join(source, "d/e"), { recursive: true });
    writeFileSync(join(source, "d/e/f.txt"), "from zip cli\n".repeat(1000));
    const zipFile = join(source, "out.zip");
    Bun.spawnSync(["zip", "-qr", zipFile, "d"], { cwd: source });
    const target = join(dir, "cli");
    const { status } = await upload(rocklet, readFileSync(zipFile), { target_path: target, unzip: "true" });
    expect(status).toBe(200);
    expect(readFileSync(join(target, "d/e/f.txt"), "utf8")).toBe("from zip cli\n".repeat(1000));
  });

  test("an upload above the limit gets 413", async () => {
    const target = join(dir, "too-big.bin");
    const { status, body } = await upload(small, new Uint8Array(256 * 1024), { target_path: target });
    expect(status).toBe(413);
    expect(body.detail).toContain("limit");
    expect(existsSync(target)).toBe(false);
    // Within the envelope slack of the Content-Length check: caught while streaming.
    const streamed = await upload(small, new Uint8Array(100 * 1024), { target_path: target });
    expect(streamed.status).toBe(413);
    expect(existsSync(target)).toBe(false);
    const fits = await upload(small, new Uint8Array(60 * 1024), { target_path: join(dir, "fits.bin") });
    expect(fits.status).toBe(200);
  });

  test("missing fields are 422", async () => {
    const noTarget = await upload(rocklet, "x", {});
    expect(noTarget.status).toBe(422);
    expect(noTarget.body.detail[0].loc).toEqual(["body", "target_path"]);
    const notMultipart = await rocklet.post("/upload", { target_path: "/tmp/x" });
    expect(notMultipart.status).toBe(422);
  });
});
