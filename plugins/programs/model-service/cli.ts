/** `bun run rock model-service …`: the standalone model service's commands (plugins/programs/model-service) under the rock CLI. */
import type { CliCommand } from "../../../core/cli.ts";
import { runModelServiceCommand, USAGE } from "./commands.ts";

export const commands: Record<string, CliCommand> = {
  "model-service": {
    summary: "the LLM bridge between an agent and a trainer: start, stop, watch-agent, anti-call-llm",
    usage: USAGE.replace(/^ {2}model-service /gm, "  rock model-service "),
    run: (args) => runModelServiceCommand(args),
  },
};
