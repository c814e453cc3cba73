/**
 * HTTP to another port of the sandbox (E2B's `E2b-Sandbox-Port` other than envd's): a call carrying
 * `X-Rocklet-Forward-Port: N` (and the rocklet's token) is passed to `http://127.0.0.1:N` inside the sandbox, streamed
 * both ways. The admin's data plane sends it; the header is the rocklet's own, so no path of the user's service is
 * taken from it.
 */
export const FORWARD_PORT_HEADER = "x-rocklet-forward-port";

/** Headers of this hop or of our credentials, not of the call to the user's service. */
const DROPPED = new Set(["host", "connection", "keep-alive", "transfer-encoding", "content-length", "authorization", "x-rocklet-token", "x-access-token", FORWARD_PORT_HEADER, "upgrade", "te", "trailer"]);

export async function forwardToPort(request: Request, url: URL, rockletPort: number): Promise<Response> {
  const raw = request.headers.get(FORWARD_PORT_HEADER)!;
  const port = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || port < 1 || port > 65_535) return error(400, `${FORWARD_PORT_HEADER}: '${raw}' is not a port (1-65535)`);
  if (port === rockletPort) return error(400, `${FORWARD_PORT_HEADER}: port ${port} is the rocklet's own`);
  const headers = new Headers();
  request.headers.forEach((value, name) => {
    if (!DROPPED.has(name)) headers.set(name, value);
  });
  headers.set("host", `127.0.0.1:${port}`);
  try {
    const answer = await fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body: request.method === "GET" || request.method === "HEAD" ? undefined : request.body,
      signal: request.signal,
      redirect: "manual",
      decompress: false,
      duplex: "half",
    } as RequestInit);
    const out = new Headers(answer.headers);
    out.delete("transfer-encoding");
    out.delete("connection");
    return new Response(answer.body, { status: answer.status, headers: out });
  } catch (cause) {
    // Nothing to reach is the caller's mistake (a port nobody listens on), not the sandbox failing.
    return error(404, `nothing answers on port ${port} in the sandbox (${(cause as Error).message})`);
  }
}

/** envd's error body, as E2B's clients read it. */
function error(status: number, message: string): Response {
  return Response.json({ code: status, message }, { status });
}
