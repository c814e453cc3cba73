/** A loopback OpenAI-compatible upstream whose answers the test scripts, and which remembers what it was sent. */
export interface Seen {
  path: string;
  body: string;
  authorization: string | null;
}

export type Reply = () => Response;

export interface ScriptedUpstream {
  url: string;
  seen: Seen[];
  /** Replies for the next calls, in order; when they run out, `fallback` answers. */
  script(...replies: Reply[]): void;
  stop(): void;
}

export function scriptedUpstream(fallback: Reply): ScriptedUpstream {
  const queue: Reply[] = [];
  const seen: Seen[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      seen.push({ path: new URL(request.url).pathname, body: await request.text(), authorization: request.headers.get("authorization") });
      return (queue.shift() ?? fallback)();
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    seen,
    script: (...replies) => queue.push(...replies),
    stop: () => server.stop(true),
  };
}

export const status = (code: number, body: unknown = { error: { message: `status ${code}` } }, headers: Record<string, string> = {}): Reply => () =>
  new Response(JSON.stringify(body), { status: code, headers: { "content-type": "application/json", ...headers } });
