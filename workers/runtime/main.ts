#!/usr/bin/env bun
/**
 * `bun run worker <folder>`: starts the worker described by `<folder>/layout.yaml` (or $LAYOUT_CONFIG), serves
 * its HTTP API, registers with the Agent once listening, and unregisters on SIGTERM/SIGINT before exiting.
 * Prints one line on stdout when it listens: `worker <name> listening on <url><endpoint>`.
 */
import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { ConfigError, errorMessage, isAddressInUse } from "../../core/errors.ts";
import { configureLogging, createLogger, logUncaughtErrors, redact, registerSecret } from "../../core/log.ts";
import { AgentClient } from "./agent-client.ts";
import { loadLayout } from "./load-layout.ts";
import { WorkerMetrics } from "./metrics.ts";
import { startWorkerServer } from "./server.ts";
import { SettingsError, readSettings } from "./settings.ts";

const log = createLogger({ plugin: "worker" });

function fail(message: string, code = 2): never {
  console.error(redact(`worker: ${message}`));
  process.exit(code);
}

async function main(argv: string[]) {
  const folderArg = argv[0];
  if (!folderArg || folderArg === "--help") fail("usage: bun run worker <folder>   (the folder holds layout.yaml)", folderArg ? 0 : 2);
  const folder = resolve(folderArg);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) fail(`${folderArg}: not a folder`);

  let settings;
  try {
    settings = readSettings(process.env);
  } catch (error) {
    if (error instanceof SettingsError) fail(error.message);
    throw error;
  }
  if (settings.debug) configureLogging({ level: "debug" });
  registerSecret(settings.agentToken);
  registerSecret(settings.workerToken);

  let layout;
  try {
    layout = await loadLayout(folder, resolve(settings.layoutConfig ?? resolve(folder, "layout.yaml")), process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    fail(errorMessage(error));
  }
  const name = settings.name ?? layout.name ?? basename(folder);
  const metrics = new WorkerMetrics(name, layout);
  let server;
  try {
    server = startWorkerServer({
      host: settings.host,
      port: settings.port,
      endpoint: settings.endpoint,
      concurrentLimit: settings.concurrentLimit,
      process: layout.process,
      metrics,
      extraRegistries: [layout.kernel.registry],
      log,
      token: settings.workerToken,
    });
  } catch (error) {
    await layout.kernel.stop("listen failed");
    if (isAddressInUse(error)) fail(`${name}: port ${settings.port} on ${settings.host} is already in use`, 1);
    throw error;
  }
  const publicEndpoint = `http://${settings.publicAddress}:${server.port}${settings.endpoint}`;
  console.log(`worker ${name} listening on ${server.url}${settings.endpoint}`);

  const agent = new AgentClient({
    agentEndpoint: settings.agentEndpoint,
    name,
    publicEndpoint,
    slots: settings.concurrentLimit,
    retryCount: settings.retryCount,
    retryBaseMs: settings.retryBaseMs,
    checkIntervalMs: settings.checkIntervalMs,
    metrics,
    log,
    agentToken: settings.agentToken,
    workerToken: settings.workerToken,
  });

  let exiting = false;
  const shutdown = async (signal: string) => {
    if (exiting) return;
    exiting = true;
    log.info("stopping", { signal });
    setTimeout(() => process.exit(1), 10_000).unref();
    await agent.unregister();
    await server.stop();
    await layout.kernel.stop(signal);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  if (await agent.register()) agent.watch();
  else if (!exiting && !settings.ignoreAgent) {
    log.error("Registration failed. The program will exit now. (set IGNORE_AGENT=true to serve without an Agent)");
    await server.stop();
    await layout.kernel.stop("registration failed");
    process.exit(1);
  } else if (!exiting) agent.watch();
}

logUncaughtErrors(log);
await main(process.argv.slice(2));
