/** A loopback TCP port nobody listens on right now (the rocklet binds it a moment later). */
export function freeLoopbackPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
