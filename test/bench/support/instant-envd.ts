/**
 * A Connect server that answers envd's `process.Process/Start` at once with what `echo hi` produces (start, stdout
 * "hi\n", end), without running anything: the floor of the E2B SDK's `commands.run` on this machine. Prints its port.
 */
const frame = (flags: number, message: unknown) => {
  const payload = new TextEncoder().encode(JSON.stringify(message));
  const bytes = new Uint8Array(5 + payload.length);
  bytes[0] = flags;
  new DataView(bytes.buffer).setUint32(1, payload.length);
  bytes.set(payload, 5);
  return bytes;
};
const answer = Buffer.concat([
  frame(0, { event: { start: { pid: 1 } } }),
  frame(0, { event: { data: { stdout: btoa("hi\n") } } }),
  frame(0, { event: { end: { exitCode: 0, exited: true, status: "exit status 0" } } }),
  frame(0b10, {}),
]);

const instant = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    await request.arrayBuffer();
    if (new URL(request.url).pathname !== "/process.Process/Start") return new Response("not found", { status: 404 });
    return new Response(answer, { headers: { "content-type": "application/connect+json" } });
  },
});
console.log(instant.port);
