/**
 * Oversized and over-nested requests get a 4xx in the service's own error shape, naming the limit and its config
 * field: never Bun's empty 413/431, never a stack overflow (500). Raw sockets where the request's shape matters.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Kernel } from "../../core/kernel.ts";
import { tempProject, type TempProject } from "../support/project.ts";

let project: TempProject;
let kernel: Kernel;
let limited: string; // small configured limits, the service's own error shape
let defaults: string; // default limits
let port: number;

const service = (name: string) => `{
  name: "${name}",
  kind: "service",
  version: "1.0.0",
  defaultPort: 0,
  setup(ctx) {
    return {
      http: {
        errorBody: (e) => ({ failed: true, why: e.message, status: e.status }),
        mount: (app) =>
          app
            .post("/any", ({ body }) => ({ got: JSON.stringify(body).length }), { body: t.Any() })
            .post("/items", ({ body }) => ({ n: body.tags?.length, meta: body.meta }), {
              body: t.Object({
                name: t.String(),
                tags: t.Optional(t.Nullable(t.Array(t.Object({ label: t.String({ minLength: 1 }) })))),
                meta: t.Optional(t.Nullable(t.Record(t.String(), t.String()))),
              }),
            })
            .post("/upload", ({ body }) => ({ size: body.file.size }), { body: t.Object({ file: t.File() }) }),
      },
    };
  },
}`;

beforeAll(async () => {
  project = tempProject();
  const imports = `import { t } from "elysia";`;
  project.plugin("plugins/services", "limited", service("limited"), imports);
  project.plugin("plugins/services", "plain", service("plain"), imports);
  project.config("server:\n  max_body_bytes: 65536\n  max_header_bytes: 4096\n  max_json_depth: 32\nplugins:\n  limited: {}\n");
  kernel = await Kernel.load({ root: project.root });
  await kernel.start();
  limited = kernel.server("limited")!.url;
  port = kernel.server("limited")!.port;
});

afterAll(async () => {
  await kernel?.stop();
  project?.remove();
});

const post = (path: string, body: string | FormData | ReadableStream<Uint8Array>, headers: Record<string, string> = { "content-type": "application/json" }) =>
  fetch(limited + path, { method: "POST", headers, body });

/** Sends `head` (and nothing more) on a raw socket and returns the first response it gets. */
async function rawExchange(target: number, head: string): Promise<string> {
  let received = "";
  const { promise, resolve } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: target,
    socket: {
      data(_, chunk) {
        received += chunk.toString();
        const end = received.indexOf("\r\n\r\n");
        const length = /content-length: (\d+)/i.exec(received)?.[1];
        if (end >= 0 && length !== undefined && received.length >= end + 4 + Number(length)) resolve(received);
      },
      close: () => resolve(received),
    },
  });
  socket.write(head);
  const timer = setTimeout(() => resolve(received), 5000);
  const answer = await promise;
  clearTimeout(timer);
  socket.end();
  return answer;
}

describe("body size (server.max_body_bytes)", () => {
  test("a declared length above the limit: 413 in the service's shape, before the body is sent", async () => {
    const answer = await rawExchange(port, `POST /any HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 314572800\r\n\r\n`);
    expect(answer).toStartWith("HTTP/1.1 413");
    const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
    expect(body).toEqual({ failed: true, status: 413, why: "request body is 314572800 bytes, more than the limit of 65536 bytes (server.max_body_bytes)" });
  });

  test("a multipart upload above the limit, and one below it", async () => {
    const big = new FormData();
    big.append("file", new File([new Uint8Array(100_000)], "big.bin"));
    const refused = await post("/upload", big, {});
    expect(refused.status).toBe(413);
    expect((await refused.json()).why).toContain("more than the limit of 65536 bytes (server.max_body_bytes)");
    const small = new FormData();
    small.append("file", new File([new Uint8Array(1000)], "small.bin"));
    expect(await (await post("/upload", small, {})).json()).toEqual({ size: 1000 });
  });

  test("a chunked body (no length) is counted as it arrives: 413 above the limit, accepted below", async () => {
    const chunks = (count: number) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          const encoder = new TextEncoder();
          controller.enqueue(encoder.encode('{"a":"'));
          for (let i = 0; i < count; i++) controller.enqueue(encoder.encode("x".repeat(16 * 1024)));
          controller.enqueue(encoder.encode('"}'));
          controller.close();
        },
      });
    const refused = await post("/any", chunks(8));
    expect(refused.status).toBe(413);
    expect(await refused.json()).toEqual({ failed: true, status: 413, why: "request body is more than the limit of 65536 bytes (server.max_body_bytes)" });
    const accepted = await post("/any", chunks(2));
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ got: 2 * 16 * 1024 + 8 });
  });
});

describe("head size (server.max_header_bytes)", () => {
  test("a 100 KB query string: 414 in the service's shape", async () => {
    const res = await fetch(`${limited}/any?q=${"a".repeat(100_000)}`, { method: "POST", body: "{}" });
    expect(res.status).toBe(414);
    const body = await res.json();
    expect(body.why).toStartWith("request target is ");
    expect(body.why).toEndWith("more than the limit of 4096 bytes (server.max_header_bytes)");
  });

  test("a 100 KB header: 431 in the service's shape", async () => {
    const res = await fetch(`${limited}/any`, { method: "POST", body: "{}", headers: { "x-large": "b".repeat(100_000) } });
    expect(res.status).toBe(431);
    expect((await res.json()).why).toEndWith("more than the limit of 4096 bytes (server.max_header_bytes)");
  });
});

describe("nesting (server.max_json_depth)", () => {
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

  test("5,000 levels, at the top or inside a field: 400 naming the limit (it overflowed the stack before)", async () => {
    for (const body of [nested(5000), `{"name":${nested(5000)}}`, `{"name":"x","tags":[{"label":${nested(5000)}}]}`]) {
      for (const path of ["/any", "/items"]) {
        const res = await post(path, body);
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ failed: true, status: 400, why: "request body nests arrays and objects more than 32 levels deep (server.max_json_depth)" });
      }
    }
  });

  test("exactly the limit is accepted", async () => {
    const res = await post("/any", nested(32));
    expect(res.status).toBe(200);
    expect((await post("/any", nested(33))).status).toBe(400);
  });
});

describe("validation messages", () => {
  test("a value in a nullable list names the innermost field", async () => {
    const res = await post("/items", JSON.stringify({ name: "x", tags: [{}] }));
    expect(res.status).toBe(400);
    expect((await res.json()).why).toStartWith("invalid body: tags.0.label: ");
  });

  test("a rejected object with its own toString or valueOf key is a 400 (quoting it threw a TypeError: 500)", async () => {
    for (const body of [{ name: { toString: 1 } }, { name: [{ valueOf: "x", toString: "y" }] }, { name: "x", tags: { toString: 1 } }]) {
      const res = await post("/items", JSON.stringify(body));
      expect(res.status).toBe(400);
      expect((await res.json()).why).toStartWith("invalid body: ");
    }
    expect(await (await post("/any", JSON.stringify({ toString: 1, valueOf: [2] }))).json()).toEqual({ got: 28 });
  });

  test("a string or a list sent for a nullable record is a 400, not a record of its characters", async () => {
    for (const meta of ["abc", ["q"]]) {
      const res = await post("/items", JSON.stringify({ name: "x", meta }));
      expect(res.status).toBe(400);
      expect((await res.json()).why).toStartWith("invalid body: meta: ");
    }
    expect(await (await post("/items", JSON.stringify({ name: "x", meta: { a: "b" }, extra: 1 }))).json()).toEqual({ meta: { a: "b" } });
  });

  test("the value found is clipped, not echoed whole", async () => {
    const res = await post("/items", JSON.stringify({ name: Array.from({ length: 5000 }, (_, i) => i) }));
    expect(res.status).toBe(400);
    const { why } = await res.json();
    expect(why).toStartWith("invalid body: name: ");
    expect(why.length).toBeLessThan(500);
  });
});

describe("default limits", () => {
  beforeAll(async () => {
    await kernel.stop();
    project.config("plugins:\n  plain: {}\n");
    kernel = await Kernel.load({ root: project.root });
    await kernel.start();
    defaults = kernel.server("plain")!.url;
  });

  test("a 300 MiB upload: 413 naming the 128 MiB default; a 100 KB query: 414", async () => {
    const answer = await rawExchange(kernel.server("plain")!.port, `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 314572800\r\n\r\n`);
    expect(answer).toStartWith("HTTP/1.1 413");
    expect(answer).toContain(`"why":"request body is 314572800 bytes, more than the limit of 134217728 bytes (server.max_body_bytes)"`);
    const query = await fetch(`${defaults}/any?q=${"a".repeat(100_000)}`, { method: "POST", body: "{}" });
    expect(query.status).toBe(414);
    expect((await query.json()).why).toContain("more than the limit of 16384 bytes (server.max_header_bytes)");
  });

  test("a 1.5 MB string where a record belongs is refused in well under a second (it took seconds of CPU)", async () => {
    const started = performance.now();
    const res = await fetch(`${defaults}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "x", meta: "m".repeat(1_500_000) }) });
    expect(res.status).toBe(400);
    expect((await res.json()).why).toStartWith("invalid body: meta: ");
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
