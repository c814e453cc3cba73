/**
 * A real agent for the tests: a loop over the `openai` SDK, as agents in sandboxes are written.
 *   bun agent.ts <base-url> <turns> [stream|plain]
 * Prints each reply as one JSON line {turn, content}; on an API error prints {error, status} and exits 3.
 */
import OpenAI from "openai";

const [baseURL, turnsText, mode = "plain"] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "sk-agent", maxRetries: 0 });
const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: "user", content: "start the task" }];

for (let turn = 1; turn <= Number(turnsText); turn++) {
  try {
    let content = "";
    if (mode === "stream") {
      const stream = await client.chat.completions.create({ model: "policy", messages, stream: true });
      for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? "";
    } else {
      const completion = await client.chat.completions.create({ model: "policy", messages });
      content = completion.choices[0].message.content ?? "";
    }
    console.log(JSON.stringify({ turn, content }));
    messages.push({ role: "assistant", content }, { role: "user", content: `observation ${turn}` });
  } catch (error) {
    const status = (error as { status?: number }).status;
    console.log(JSON.stringify({ error: (error as Error).message, status }));
    process.exit(3);
  }
}
