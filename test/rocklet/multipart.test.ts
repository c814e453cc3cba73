import { expect, test } from "bun:test";
import { parseMultipart, type PartSink } from "../../plugins/programs/rocklet/multipart.ts";

async function parse(body: Uint8Array, boundary: string, chunkSize: number) {
  const fields: Record<string, string> = {};
  const files: Record<string, { filename: string; data: Buffer[] }> = {};
  const sink: PartSink = {
    field: (name, value) => {
      fields[name] = value;
    },
    file: (name, filename) => {
      const entry = { filename, data: [] as Buffer[] };
      files[name] = entry;
      return { write: async (chunk) => void entry.data.push(Buffer.from(chunk)), end: async () => undefined };
    },
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < body.length; at += chunkSize) controller.enqueue(body.subarray(at, at + chunkSize));
      controller.close();
    },
  });
  await parseMultipart(stream, boundary, sink);
  return { fields, files };
}

test("multipart parsing is independent of how the body is chunked", async () => {
  const form = new FormData();
  form.append("target_path", "/tmp/ü x");
  form.append("unzip", "true");
  const content = Uint8Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 13 : i % 256));
  form.append("file", new Blob([content]), 'we"ird.bin');
  const response = new Response(form);
  const boundary = /boundary=(.+)$/.exec(response.headers.get("content-type")!)![1];
  const body = new Uint8Array(await response.arrayBuffer());
  for (const chunkSize of [1, 7, 64, 1000, body.length]) {
    const { fields, files } = await parse(body, boundary, chunkSize);
    expect(fields).toEqual({ target_path: "/tmp/ü x", unzip: "true" });
    expect(new Uint8Array(Buffer.concat(files.file.data))).toEqual(content);
  }
});
