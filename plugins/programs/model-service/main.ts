#!/usr/bin/env bun
/** The standalone model service, as run inside sandboxes without the kernel: `model-service <command>` (see commands.ts). */
import { runModelServiceCommand } from "./commands.ts";

runModelServiceCommand(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`model-service: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
