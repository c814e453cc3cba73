import type { ServerWebSocket, Socket } from "bun";

/** WebSocket ⇄ TCP bridge for `/portforward?port=N` to 127.0.0.1:N inside the sandbox (ROCK §1.7). */

export interface PortforwardData {
  rawPort: string | null;
  tcp: Socket<undefined> | null;
  /** Frames that arrived before the TCP connection was up, or that the socket could not take yet. */
  outbox: Uint8Array[];
  closed: boolean;
}

const CONNECT_TIMEOUT_MS = 10_000;
const MIN_PORT = 1024;
const MAX_PORT = 65535;
const FORBIDDEN_PORTS = new Set([22]);

export function portforwardData(url: URL): PortforwardData {
  return { rawPort: url.searchParams.get("port"), tcp: null, outbox: [], closed: false };
}

/** ROCK's rules and messages: not 22, and 1024 ≤ port ≤ 65535. */
export function validatePort(raw: string | null): { port: number } | { error: string } {
  if (raw === null || !/^\d+$/.test(raw.trim())) return { error: `Invalid port: ${JSON.stringify(raw)}` };
  const port = Number(raw.trim());
  if (FORBIDDEN_PORTS.has(port)) return { error: `Port ${port} is not allowed for port forwarding` };
  if (port < MIN_PORT) return { error: `Port ${port} is below minimum allowed port ${MIN_PORT}` };
  if (port > MAX_PORT) return { error: `Port ${port} is above maximum allowed port ${MAX_PORT}` };
  return { port };
}

type Ws = ServerWebSocket<PortforwardData>;

export async function openPortforward(ws: Ws): Promise<void> {
  const checked = validatePort(ws.data.rawPort);
  if ("error" in checked) {
    ws.close(1008, checked.error);
    return;
  }
  const { port } = checked;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), CONNECT_TIMEOUT_MS)));
  const connecting = Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_socket, data) => {
        if (ws.send(data) === -1) _socket.pause();
      },
      drain: () => flushOutbox(ws),
      close: () => closeWs(ws, 1000, "TCP connection closed"),
      error: () => closeWs(ws, 1011, "TCP connection error"),
    },
  });
  let outcome: Socket<undefined> | "timeout";
  try {
    outcome = await Promise.race([connecting, timeout]);
  } catch (error) {
    closeWs(ws, 1011, `Failed to connect to port ${port}: ${error instanceof Error ? error.message : String(error)}`);
    return;
  } finally {
    clearTimeout(timer);
  }
  if (outcome === "timeout") {
    connecting.then((socket) => socket.end()).catch(() => undefined);
    closeWs(ws, 1011, `Connection to port ${port} timed out`);
    return;
  }
  if (ws.data.closed) {
    outcome.end();
    return;
  }
  ws.data.tcp = outcome;
  flushOutbox(ws);
}

export function portforwardMessage(ws: Ws, message: string | Buffer): void {
  ws.data.outbox.push(typeof message === "string" ? Buffer.from(message) : message);
  flushOutbox(ws);
}

/** The WebSocket had room again: resume reading the TCP side. */
export function portforwardDrain(ws: Ws): void {
  ws.data.tcp?.resume();
}

export function portforwardClose(ws: Ws): void {
  ws.data.closed = true;
  ws.data.tcp?.end();
  ws.data.tcp = null;
}

function flushOutbox(ws: Ws): void {
  const tcp = ws.data.tcp;
  if (!tcp) return;
  while (ws.data.outbox.length > 0) {
    const chunk = ws.data.outbox[0];
    const written = tcp.write(chunk);
    if (written < chunk.length) {
      ws.data.outbox[0] = chunk.subarray(Math.max(0, written));
      return;
    }
    ws.data.outbox.shift();
  }
}

function closeWs(ws: Ws, code: number, reason: string): void {
  if (ws.data.closed) return;
  ws.data.closed = true;
  // Close reasons are limited to 123 bytes.
  ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
}
