/** An OpenAI-compatible server that answers instantly (stream or not); prints its port on stdout. */
const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
const frames =
  [
    { id: "x", object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "hello" }, finish_reason: null }] },
    { id: "x", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: " world" }, finish_reason: null }] },
    { id: "x", object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
    { id: "x", object: "chat.completion.chunk", choices: [], usage },
  ]
    .map((f) => `data: ${JSON.stringify(f)}\n\n`)
    .join("") + "data: [DONE]\n\n";
const completion = JSON.stringify({
  id: "x",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "hello world" }, finish_reason: "stop" }],
  usage,
});

const server = Bun.serve({
  port: Number(process.argv[2] ?? 0),
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = await req.json();
    return body.stream
      ? new Response(frames, { headers: { "content-type": "text/event-stream" } })
      : new Response(completion, { headers: { "content-type": "application/json" } });
  },
});
console.log(server.port);
