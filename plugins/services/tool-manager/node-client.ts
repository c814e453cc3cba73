/**
 * The manager's calls to a tool node on its loopback port, with the node's token and a deadline. Bodies come back
 * as text: a node's envelope already carries our request id, so the execute path passes it through unparsed.
 */
export interface NodeReply {
  status: number;
  text: string;
}

export class NodeUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NodeUnreachable";
  }
}

export class NodeTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "NodeTimeout";
  }
}

export class NodeClient {
  constructor(private readonly fetchFn: typeof fetch) {}

  private async call(port: number, token: string, path: string, timeoutMs: number, init: RequestInit = {}): Promise<NodeReply> {
    let response: Response;
    try {
      response = await this.fetchFn(`http://127.0.0.1:${port}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      if ((error as Error)?.name === "TimeoutError") throw new NodeTimeout(timeoutMs);
      throw new NodeUnreachable((error as Error)?.message ?? String(error));
    }
  }

  info(port: number, token: string, requestId: string, timeoutMs: number): Promise<NodeReply> {
    return this.call(port, token, `/tool_info?request_id=${encodeURIComponent(requestId)}`, timeoutMs);
  }

  execute(port: number, token: string, body: { params: unknown; kwargs: unknown; request_id: string }, timeoutMs: number): Promise<NodeReply> {
    return this.call(port, token, "/execute_tool", timeoutMs, { method: "POST", body: JSON.stringify(body) });
  }

  /** True when the node answers its health route. */
  async healthy(port: number, timeoutMs = 1000): Promise<boolean> {
    try {
      const response = await this.fetchFn(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      await response.arrayBuffer();
      return response.ok;
    } catch {
      return false;
    }
  }
}
