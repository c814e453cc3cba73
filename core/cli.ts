#!/usr/bin/env bun
/**
 * `bun run rock [command]`. Built-in commands start the server and list plugins; folders under plugins/ add their
 * own commands (e.g. `sandbox`, `model-service`) by exporting `commands` from a `cli.ts`.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, PermissionDenied, PluginError, PortInUse, errorMessage } from "./errors.ts";
import { Kernel, projectRoot } from "./kernel.ts";
import { createLogger, logUncaughtErrors, redact } from "./log.ts";
import { describePermissions } from "./permissions/schema.ts";

export interface CliCommand {
  summary: string;
  usage?: string;
  run(args: string[]): Promise<number | void>;
}

const builtins: Record<string, CliCommand> = {
  serve: {
    summary: "start every enabled service (the default command)",
    usage: "rock [serve] [--config FILE]",
    run: serve,
  },
  plugins: {
    summary: "list discovered plugins: kind, version, enabled state and permissions",
    usage: "rock plugins [--config FILE] [--json]",
    run: listPlugins,
  },
};

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  const prefixed = args.find((a) => a.startsWith(`${name}=`));
  return prefixed?.slice(name.length + 1);
}

async function serve(args: string[]): Promise<number> {
  const kernel = await Kernel.load({ configFile: option(args, "--config") });
  let exiting = false;
  const onSignal = (signal: string) => {
    if (exiting) return;
    exiting = true;
    // A hard deadline in case a plugin ignores the bounded stop (e.g. a stuck socket).
    setTimeout(() => process.exit(1), kernel.config.kernel.server.shutdown_timeout_ms + 2000).unref();
    kernel.stop(signal).then(() => process.exit(0));
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  await kernel.start();
  const names = kernel.enabledPlugins().map((p) => p.definition.name);
  kernel.log.info("started", { config: kernel.config.file, plugins: names.join(","), store: kernel.config.kernel.store.type });
  for (const server of kernel.servers) console.log(`${server.name.padEnd(14)} ${server.url}`);
  return new Promise<number>(() => {}); // runs until a signal
}

async function listPlugins(args: string[]): Promise<number> {
  const kernel = await Kernel.load({ configFile: option(args, "--config") });
  const rows = kernel.plugins
    .map((p) => ({
      name: p.definition.name,
      kind: p.definition.kind,
      version: p.definition.version,
      enabled: p.enabled,
      port: p.listen?.port,
      permissions: p.permissions,
      dependencies: p.dependencies,
      path: p.discovered.dir,
      description: p.definition.description ?? "",
    }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  if (args.includes("--json")) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  for (const row of rows) {
    const state = row.enabled ? "enabled " : "disabled";
    const port = row.port !== undefined ? ` port ${row.port}` : "";
    console.log(`${row.name.padEnd(16)} ${row.kind.padEnd(10)} ${row.version.padEnd(8)} ${state}${port}  ${row.description}`);
    const granted = describePermissions(row.permissions);
    console.log(`${"".padEnd(16)} permissions: ${granted.length ? granted.join("; ") : "none"}`);
    if (row.dependencies.length) console.log(`${"".padEnd(16)} depends on: ${row.dependencies.join(", ")}`);
  }
  return 0;
}

/** Commands exported by `plugins/<folder>/<name>/cli.ts` files (a plugin's, a client's, a program's). */
async function pluginCommands(): Promise<Record<string, CliCommand>> {
  const found: Record<string, CliCommand> = {};
  const root = join(projectRoot, "plugins");
  for (const kind of existsSync(root) ? readdirSync(root) : []) {
    const kindDir = join(root, kind);
    for (const name of readdirSync(kindDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)) {
      const file = join(kindDir, name, "cli.ts");
      if (!existsSync(file)) continue;
      const module = await import(file);
      Object.assign(found, module.commands ?? {});
    }
  }
  return found;
}

function help(commands: Record<string, CliCommand>) {
  console.log(`rock: sandboxes, agent/tool servers and LLM workers on one kernel

Usage: bun run rock [command] [options]

Commands:`);
  for (const [name, command] of Object.entries(commands)) console.log(`  ${name.padEnd(16)} ${command.summary}`);
  console.log(`
Options:
  --config FILE    config file (default: $ROCK_CONFIG, then conf/rock.yml, else embedded defaults)
  --help           this text

Environment: ROCK_CONFIG, ROCK_HOST, ROCK_API_TOKEN, ROCK_REDIS_URL, ROCK_DOCKER_SOCKET, ROCK_DATA_DIR,
ROCK_LOG_LEVEL, ROCK_<PLUGIN>_PORT / _HOST / _TOKEN / _ENABLED (see README).`);
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h" || first === "help") {
    help({ ...builtins, ...(await pluginCommands()) });
    return 0;
  }
  const name = !first || first.startsWith("-") ? "serve" : first;
  const args = name === first ? rest : argv;
  // Plugins' command modules are loaded only for commands the kernel does not have (not on every server start).
  const command = builtins[name] ?? (await pluginCommands())[name];
  if (!command) {
    console.error(`rock: unknown command '${name}' (see bun run rock --help)`);
    return 2;
  }
  if (args[0] === "--help" || args[0] === "-h") {
    console.log(`${command.usage ?? `rock ${name}`}\n\n${command.summary}`);
    return 0;
  }
  return (await command.run(args)) ?? 0;
}

if (import.meta.main) {
  logUncaughtErrors(createLogger({ plugin: "kernel" }));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      const known = error instanceof ConfigError || error instanceof PluginError || error instanceof PermissionDenied || error instanceof PortInUse;
      console.error(redact(known ? `rock: ${error.message}` : `rock: ${errorMessage(error)}`));
      if (!known && process.env.ROCK_DEBUG) console.error(redact(Bun.inspect(error)));
      process.exit(known ? 2 : 1);
    },
  );
}
