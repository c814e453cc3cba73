import { Type } from "@sinclair/typebox";
import type { Deployment } from "../../../core/kinds/deployment.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { fromRoot, ROCKLET_BINARY_DEFAULT, ROCKLET_BUILD_HINT } from "../../shared/deployment/rocklet-files.ts";
import { DockerDeployment } from "./docker-deployment.ts";

/** Modes in which the rocklet could not be published on a loopback port of its own. */
const unsupportedNetworkModes = /^(host|none|container:.*)$/;

export default definePlugin({
  name: "docker",
  kind: "deployment",
  version: "0.1.0",
  description:
    "sandboxes as Docker containers: any glibc image, the compiled rocklet bind-mounted read-only, published on 127.0.0.1 only, " +
    "unprivileged (all capabilities dropped but a shell's few, no-new-privileges) with CPU, memory (no swap) and pids limits",
  config: Type.Object({
    rocklet_binary: Type.String({ default: ROCKLET_BINARY_DEFAULT, description: "Compiled rocklet (relative to the project root); the engine must see the same path" }),
    rocklet_port: Type.Integer({ default: 22555, minimum: 1, maximum: 65535, description: "Port of the rocklet inside the container (ROCK's 22555)" }),
    network_mode: Type.String({ default: "bridge", minLength: 1, description: "Docker network of the sandboxes (bridge or a user-defined network)" }),
    cap_add: Type.Array(Type.String({ pattern: "^[A-Za-z_]+$" }), { default: [], description: "Capabilities added to the default sandbox set" }),
    pull: Type.Union([Type.Literal("never"), Type.Literal("missing"), Type.Literal("always")], { default: "missing", description: "Pull policy when a start request names none (never, missing, always)" }),
    init: Type.Boolean({ default: true, description: "Run docker-init as PID 1 (reaps orphans, forwards SIGTERM to the rocklet)" }),
    user: Type.String({ default: "", description: "User the rocklet runs as (default: the image's user)" }),
    stop_timeout_seconds: Type.Integer({ default: 2, minimum: 0, description: "Grace between SIGTERM and SIGKILL at stop" }),
    max_sessions: Type.Integer({ default: 64, minimum: 1, description: "Bash sessions a sandbox may have open at once; more are refused naming the limit" }),
    rocklet_address: Type.Union([Type.Literal("published"), Type.Literal("container")], {
      default: "published",
      description:
        "How the server reaches a sandbox's rocklet: 'published', its loopback-published port (works wherever the engine is); " +
        "'container', the container's address on its network, skipping Docker's userland proxy (faster; only where the server " +
        "runs on the engine's host, not with a remote engine or Docker Desktop)",
    }),
  }),
  permissions: (config, paths) => ({ docker: true, read: [fromRoot(paths.root, config.rocklet_binary)] }),
  setup(ctx) {
    const config = ctx.config;
    if (unsupportedNetworkModes.test(config.network_mode)) {
      throw new Error(`network_mode '${config.network_mode}' is not supported: the rocklet must be published on a loopback port (use bridge or a user-defined network)`);
    }
    const rockletBinary = fromRoot(ctx.paths.root, config.rocklet_binary);
    const deployment: Deployment = new DockerDeployment(
      ctx.docker(),
      {
        name: ctx.name,
        rockletBinary,
        rockletPort: config.rocklet_port,
        networkMode: config.network_mode,
        capAdd: config.cap_add,
        init: config.init,
        user: config.user,
        maxSessions: config.max_sessions,
        rockletAddress: config.rocklet_address,
        defaultPull: config.pull,
        stopTimeoutSeconds: config.stop_timeout_seconds,
        assertRockletBinary: async () => {
          const stat = await ctx.fs.stat(rockletBinary).catch(() => null);
          if (!stat?.isFile()) throw new Error(`rocklet binary not found at ${rockletBinary}: ${ROCKLET_BUILD_HINT}`);
        },
      },
      ctx.log,
    );
    return { deployment };
  },
});
