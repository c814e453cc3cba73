import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestRocklet, type TestRocklet, scratchDir } from "./harness.ts";

let rocklet: TestRocklet;
let dir: string;

beforeAll(() => {
  rocklet = startTestRocklet();
  dir = scratchDir("rocklet-files-");
});
afterAll(async () => {
  await rocklet.stop();
});

describe("read_file / write_file", () => {
  test("reading a missing file is an error naming the path", async () => {
    const path = join(dir, "missing.txt");
    const { status, body } = await rocklet.post("/read_file", { path, sandbox_id: "sb" });
    expect(status).toBe(511);
    expect(body.rockletexception).toMatchObject({
      class_path: "builtins.FileNotFoundError",
      message: `[Errno 2] No such file or directory: '${path}'`,
      traceback: "",
    });
  });

  test("reading a directory is IsADirectoryError", async () => {
    const { body } = await rocklet.post("/read_file", { path: dir });
    expect(body.rockletexception.class_path).toBe("builtins.IsADirectoryError");
  });

  test("write then read round trip, creating nested directories", async () => {
    const path = join(dir, "a", "b", "c", "note.txt");
    const written = await rocklet.post("/write_file", { path, content: "héllo\nwörld", sandbox_id: "sb" });
    expect(written.body).toEqual({ success: true, message: "" });
    expect(readFileSync(path, "utf8")).toBe("héllo\nwörld");
    expect((await rocklet.post("/read_file", { path })).body).toEqual({ content: "héllo\nwörld" });
  });

  test("encoding and errors behave like Path.read_text", async () => {
    const path = join(dir, "latin1.txt");
    writeFileSync(path, Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const strict = await rocklet.post("/read_file", { path });
    expect(strict.body.rockletexception.class_path).toBe("builtins.UnicodeDecodeError");
    expect((await rocklet.post("/read_file", { path, encoding: "latin-1" })).body.content).toBe("café");
    expect((await rocklet.post("/read_file", { path, errors: "replace" })).body.content).toBe("caf\ufffd");
    expect((await rocklet.post("/read_file", { path, errors: "backslashreplace" })).body.content).toBe("caf\\xe9");
    expect((await rocklet.post("/read_file", { path, errors: "ignore" })).body.content).toBe("caf");
    const unknown = await rocklet.post("/read_file", { path, encoding: "klingon" });
    expect(unknown.body.rockletexception.class_path).toBe("builtins.LookupError");
  });

  test("text mode translates CRLF like Python", async () => {
    const path = join(dir, "crlf.txt");
    writeFileSync(path, "a\r\nb\rc\n");
    expect((await rocklet.post("/read_file", { path })).body.content).toBe("a\nb\nc\n");
  });

  test("validation", async () => {
    expect((await rocklet.post("/read_file", {})).body.detail[0].loc).toEqual(["body", "path"]);
    expect((await rocklet.post("/write_file", { path: "/tmp/x" })).body.detail[0].loc).toEqual(["body", "content"]);
  });
});
