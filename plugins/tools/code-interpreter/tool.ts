/**
 * `code_interpreter`: runs Python or bash code in a ROCK sandbox through the admin service, so that the code runs
 * neither in the agent's process nor in the tool's container. The instance uses `sandbox_id` from its config, or
 * starts a sandbox of `image` on its first call and keeps it for the next calls (starting another if it was reaped).
 */
import { Type } from "@sinclair/typebox";
import { defineTool, type ToolContext } from "../../../core/kinds/tool.ts";
import { adminCall, AdminCallError } from "./admin-client.ts";

const Config = Type.Object({
  admin_url: Type.String({ default: "http://host.docker.internal:8080", description: "The admin service, as the tool's container reaches it" }),
  token: Type.Optional(Type.String({ secret: true, description: "Bearer token of the admin service" })),
  sandbox_id: Type.Optional(Type.String({ minLength: 1, description: "An existing sandbox to run in; default: start one on first use" })),
  image: Type.String({ default: "python:3.11-slim", description: "Image of the sandbox started on first use" }),
  memory: Type.String({ default: "1g" }),
  cpus: Type.Number({ default: 1, exclusiveMinimum: 0 }),
  timeout_seconds: Type.Number({ default: 60, exclusiveMinimum: 0, description: "Deadline of one run" }),
});

const interpreters = { python: ["python3", "-c"], bash: ["bash", "-c"] } as const;

/** The sandbox this node started; one node serves one instance, so module state is per instance. */
let started: Promise<string> | undefined;

function sandboxFor(context: ToolContext): Promise<string> {
  if (context.config.sandbox_id) return Promise.resolve(context.config.sandbox_id);
  started ??= adminCall(context.config as any, "/start", { image: context.config.image, memory: context.config.memory, cpus: context.config.cpus }, context.signal)
    .then((result) => String(result.sandbox_id))
    .catch((error) => {
      started = undefined;
      throw error;
    });
  return started;
}

async function run(code: string, language: keyof typeof interpreters, context: ToolContext) {
  const sandbox_id = await sandboxFor(context);
  const timeout = context.config.timeout_seconds;
  const result = await adminCall(context.config as any, "/execute", { sandbox_id, command: [...interpreters[language], code], timeout }, context.signal);
  return { sandbox_id, language, exit_code: result.exit_code, stdout: result.stdout, stderr: result.stderr };
}

export default defineTool<{ code: string; language?: keyof typeof interpreters }>({
  name: "code_interpreter",
  description: "Runs code in an isolated sandbox and returns its exit code, stdout and stderr",
  parameters: [
    { name: "code", type: "string", description: "The program text", required: true },
    { name: "language", type: "string", description: "python (default) or bash", enum: ["python", "bash"] },
  ],
  config: Config,
  async call({ code, language = "python" }, context) {
    try {
      return await run(code, language, context);
    } catch (error) {
      if (!(error instanceof AdminCallError && error.sandboxGone && !context.config.sandbox_id)) throw error;
      started = undefined; // the sandbox was reaped (idle timeout): start a new one once
      return run(code, language, context);
    }
  },
});
