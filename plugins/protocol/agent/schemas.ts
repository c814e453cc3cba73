/**
 * The Worker Framework Agent's routes under /v1.0 (the Kuwa kernel's): form fields in, plain-text words out, which
 * clients compare exactly. The Agent checks the fields itself and answers a bad request with the route's word, a 4xx
 * status and `x-error`/`x-error-field` headers naming the field; these schemas document the forms and the answers.
 */
import { Type } from "@sinclair/typebox";
import { t } from "elysia";
import { lenient, lenientQuery } from "../../../core/http/lenient.ts";
import { Streamed } from "../responses.ts";

const Text = (description?: string) => Type.String({ minLength: 1, description });

export const RegisterForm = lenient(Type.Object({
  name: Text(),
  endpoint: Text("The worker's http(s) URL"),
  slots: Type.Optional(Type.String({ pattern: "^\\d+$" })),
  token: Type.Optional(Type.String({ description: "The worker's own token: the Agent sends it back on every call" })),
}));
export const UnregisterForm = lenient(Type.Object({ name: Text(), endpoint: Text() }));
export const ScheduleForm = lenient(Type.Object({ name: Text(), history_id: Text(), user_id: Type.Optional(Type.String()) }));
export const ChatForm = lenient(Type.Object(
  { name: Text(), input: Text('The conversation as JSON, e.g. [{"msg":"hi","isbot":false}]'), history_id: Type.Optional(Type.String()), user_id: Type.Optional(Type.String()) },
  { additionalProperties: true },
));
export const AbortForm = lenient(Type.Object({ history_id: Text("A JSON list such as [12,13]"), user_id: Text() }));

export const ListQuery = lenientQuery(t.Object({ name: t.Optional(t.String({ description: "With a name: the endpoints registered under it" })) }));

const word = (words: string[]) => Streamed("text/plain", `One of: ${words.join(", ")}`);

/** The answers of each route: its words with 200; the route's word with 400 (403: a host not allowed), the reason in `x-error`. */
export const answers = {
  register: { 200: word(["Success", "Failed"]), 400: word(["Failed"]), 403: word(["Failed"]) },
  unregister: { 200: word(["Success", "Failed"]), 400: word(["Failed"]) },
  schedule: { 200: word(["READY", "BUSY", "NOMACHINE"]), 400: word(["BUSY"]) },
  list: { 200: t.Array(t.String(), { description: "The registered names, or with ?name= the endpoints under that name" }) },
  chat: {
    200: Streamed("text/plain", "The worker's answer, streamed as it is generated"),
    400: Streamed("text/plain", "Empty; the field at fault is in x-error and x-error-field"),
    404: Streamed("text/plain", "No worker is registered under the name"),
    502: Streamed("text/plain", "No worker could be reached, or the worker failed (its status and text)"),
    503: Streamed("text/plain", "Every worker of the name is busy"),
    504: Streamed("text/plain", "The worker did not answer in time"),
  },
  abort: { 200: word(["Success"]), 400: word(["Failed"]) },
};
