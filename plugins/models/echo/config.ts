/** Configuration of the offline "reflect" model: it answers with the last user message. */
import { Type, type Static } from "@sinclair/typebox";

export const ECHO_DEFAULTS = {
  model: "echo",
  chunks: 4,
  delay_ms: 0,
  timeout_ms: 300_000,
} as const;

export const EchoConfig = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, default: ECHO_DEFAULTS.model, description: "Name it lists and answers as" })),
    chunks: Type.Optional(Type.Integer({ minimum: 1, default: ECHO_DEFAULTS.chunks, description: "Pieces the answer is streamed in" })),
    delay_ms: Type.Optional(Type.Integer({ minimum: 0, default: ECHO_DEFAULTS.delay_ms, description: "Pause before each piece (for tests)" })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, default: ECHO_DEFAULTS.timeout_ms })),
  },
  { additionalProperties: false },
);

export type EchoConfig = Static<typeof EchoConfig>;
