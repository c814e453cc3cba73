/** CLI commands of the admin service, loaded by `bun run rock`: `rock sandbox …` against a running admin. */
import type { CliCommand } from "../../../core/cli.ts";
import { sandboxCommand } from "./sandbox-command.ts";

export const commands: Record<string, CliCommand> = { sandbox: sandboxCommand };
