/**
 * A trainer that answers every call at once, in index order, through the library client (as a trainer such as ROLL
 * embedding the protocol would):  bun echo-trainer.ts <log-file>
 * Prints "ready" once it follows the file; stops at SESSION_END.
 */
import { ModelClient } from "../../../plugins/programs/model-service/model-client.ts";

const answer = JSON.stringify({ id: "t", object: "chat.completion", model: "policy", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }] });
const client = new ModelClient(process.argv[2]);
console.log("ready");
let next = await client.antiCallLlm(0);
for (let index = 1; next !== "SESSION_END"; index++) next = await client.antiCallLlm(index, answer);
client.close();
