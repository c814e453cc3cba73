import { Type } from "@sinclair/typebox";
import type { Operator } from "../../../core/kinds/operator.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { fromRoot, ROCKLET_BINARY_DEFAULT, ROCKLET_BUILD_HINT } from "../../shared/deployment/rocklet-files.ts";
import { SwarmOperator } from "./swarm-operator.ts";

export default definePlugin({
  name: "swarm",
  kind: "operator",
  version: "0.1.0",
  description:
    "places each sandbox as a Docker Swarm service (the kernel's engine must be a swarm manager): scheduled by reserved CPU and memory " +
    "and node-label constraints, the rocklet reached at the node's address and the task's host-mode port, hardened as the docker deployment",
  config: Type.Object({
    rocklet_binary: Type.String({ default: ROCKLET_BINARY_DEFAULT, description: "Compiled rocklet (relative to the project root); every node must hold it at the same path" }),
    rocklet_port: Type.Integer({ default: 22555, minimum: 1, maximum: 65535, description: "Port of the rocklet inside the container (ROCK's 22555)" }),
    cap_add: Type.Array(Type.String({ pattern: "^[A-Za-z_]+$" }), { default: [], description: "Capabilities added to the default sandbox set" }),
    init: Type.Boolean({ default: true, description: "Run docker-init as PID 1 (reaps orphans, forwards SIGTERM to the rocklet)" }),
    user: Type.String({ default: "", description: "User the rocklet runs as (default: the image's user)" }),
    stop_timeout_seconds: Type.Integer({ default: 2, minimum: 0, description: "Grace between SIGTERM and SIGKILL at stop" }),
    max_sessions: Type.Integer({ default: 64, minimum: 1, description: "Bash sessions a sandbox may have open at once" }),
    constraints: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "Swarm placement constraints of every sandbox, e.g. node.labels.pool==sandbox" }),
    placement_labels: Type.Array(Type.String({ pattern: "^[A-Za-z0-9_.-]+$" }), {
      default: ["zone", "pool"],
      description: "Sandbox labels that pin a sandbox to nodes with the same node label (label zone=b → node.labels.zone==b)",
    }),
    placement_timeout_seconds: Type.Number({ default: 10, exclusiveMinimum: 0, description: "How long a sandbox may wait for a node that can hold it before its start fails" }),
    start_timeout_seconds: Type.Number({ default: 120, exclusiveMinimum: 0, description: "How long a placed sandbox's task may take to run (image pull included)" }),
  }),
  permissions: (config, paths) => ({ docker: true, read: [fromRoot(paths.root, config.rocklet_binary)] }),
  setup(ctx) {
    const config = ctx.config;
    const rockletBinary = fromRoot(ctx.paths.root, config.rocklet_binary);
    const operator: Operator = new SwarmOperator(
      ctx.docker(),
      {
        name: ctx.name,
        rockletBinary,
        rockletPort: config.rocklet_port,
        capAdd: config.cap_add,
        init: config.init,
        user: config.user,
        maxSessions: config.max_sessions,
        stopTimeoutSeconds: config.stop_timeout_seconds,
        constraints: config.constraints,
        placementLabels: config.placement_labels,
        placementTimeoutMs: config.placement_timeout_seconds * 1000,
        startTimeoutMs: config.start_timeout_seconds * 1000,
        assertRockletBinary: async () => {
          const stat = await ctx.fs.stat(rockletBinary).catch(() => null);
          if (!stat?.isFile()) throw new Error(`rocklet binary not found at ${rockletBinary}: ${ROCKLET_BUILD_HINT}`);
        },
      },
      ctx.log,
    );
    return { operator };
  },
});
