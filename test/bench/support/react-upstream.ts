/**
 * An OpenAI-compatible loopback server that streams ReAct text instantly: model `act` asks for RenewInstance until
 * the conversation holds an observation, then answers; any other model answers at once. Prints its port on stdout.
 */
const act = 'Action: RenewInstance\nAction Input: {"instance_id": "i-1", "period": "1"}\n';
const stream = (text: string) =>
  [...(text.match(/[\s\S]{1,16}/g) ?? []).map((piece) => ({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })), { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }]
    .map((frame) => `data: ${JSON.stringify(frame)}\n\n`)
    .join("") + "data: [DONE]\n\n";
const answers = { act: stream(act), done: stream("The instance is renewed.") };

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    const body = await request.json();
    const last = String(body.messages.at(-1)?.content ?? "");
    const text = body.model === "act" && !last.includes("Observation: <result>") ? answers.act : answers.done;
    return new Response(text, { headers: { "content-type": "text/event-stream" } });
  },
});
console.log(server.port);
export {};
