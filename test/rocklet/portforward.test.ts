import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestRocklet, type TestRocklet } from "./harness.ts";
import { freePort } from "../support/project.ts";

let rocklet: TestRocklet;
let echo: Bun.TCPSocketListener<undefined>;

beforeAll(() => {
  rocklet = startTestRocklet();
  echo = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, data) {
        socket.write(data);
      },
    },
  });
});
afterAll(async () => {
  echo.stop(true);
  await rocklet.stop();
});

function connect(port: number | string, token: string | null = rocklet.token): WebSocket {
  const url = `${rocklet.url.replace("http", "ws")}/portforward?port=${port}`;
  // Bun's WebSocket client accepts headers, which is how the gateway authenticates.
  const options = token ? { headers: { authorization: `Bearer ${token}` } } : {};
  const ws = new WebSocket(url, options as unknown as string[]);
  ws.binaryType = "arraybuffer";
  return ws;
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })));
}

describe("portforward", () => {
  test("binary frames are pumped to a TCP service and back", async () => {
    const ws = connect(echo.port);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
    });
    const payload = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
    const received: Uint8Array[] = [];
    let size = 0;
    const done = new Promise<void>((resolve) =>
      ws.addEventListener("message", (event) => {
        const chunk = new Uint8Array(event.data as ArrayBuffer);
        received.push(chunk);
        size += chunk.length;
        if (size >= payload.length) resolve();
      }),
    );
    ws.send(payload.subarray(0, 1000));
    ws.send(payload.subarray(1000));
    await done;
    expect(Buffer.concat(received)).toEqual(Buffer.from(payload));
    ws.close();
  });

  test("ports outside ROCK's rules are closed with 1008", async () => {
    for (const [port, reason] of [
      [1023, "Port 1023 is below minimum allowed port 1024"],
      [65536, "Port 65536 is above maximum allowed port 65535"],
      [22, "Port 22 is not allowed for port forwarding"],
      ["abc", 'Invalid port: "abc"'],
    ] as const) {
      const result = await closed(connect(port));
      expect(result).toEqual({ code: 1008, reason });
    }
  });

  test("a port nobody listens on is closed with 1011", async () => {
    const port = freePort();
    const result = await closed(connect(port));
    expect(result.code).toBe(1011);
    expect(result.reason).toContain(`Failed to connect to port ${port}`);
  });

  test("the upgrade needs the token", async () => {
    const response = await fetch(`${rocklet.url}/portforward?port=${echo.port}`, {
      headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    });
    expect(response.status).toBe(401);
  });
});
