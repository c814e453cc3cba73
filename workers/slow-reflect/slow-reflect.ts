/** Answers with the last user message one character at a time, pausing before each (the original's slow_reflect). */
import { Type } from "@sinclair/typebox";
import { defineWorkerModule } from "../runtime/contract.ts";

export default defineWorkerModule({
  kind: "process",
  args: Type.Object({ delay_ms: Type.Integer({ minimum: 0, default: 1000 }) }, { additionalProperties: false }),
  create: ({ delay_ms }: { delay_ms: number }) => ({
    async *process(history, signal) {
      const last = history.findLast((record) => record.role === "user")?.msg ?? "";
      for (const char of last) {
        await Bun.sleep(delay_ms);
        if (signal.aborted) return;
        yield char;
      }
    },
  }),
});
