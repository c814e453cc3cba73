import { Type } from "@sinclair/typebox";
import { t } from "elysia";
import { definePlugin } from "../../../core/plugin.ts";
import { notFound } from "../../../core/errors.ts";
import * as E from "../../protocol/envhub/schemas.ts";
import { EnvRegistry } from "./registry.ts";

/**
 * EnvHub: a registry of named environments (name → image), ROCK's `/env/*` routes with FastAPI-style `{detail}` errors.
 */
export default definePlugin({
  name: "envhub",
  kind: "service",
  version: "0.1.0",
  description: "environment registry (name → image), ROCK EnvHub compatible",
  defaultPort: 8081,
  config: Type.Object({
    default_image: Type.String({ default: "python:3.11", description: "Registered as the default env at start (ROCK_ENVHUB_DEFAULT_DOCKER_IMAGE)" }),
  }),
  permissions: { database: true, env: ["ROCK_ENVHUB_DEFAULT_DOCKER_IMAGE"] },
  setup(ctx) {
    const registry = new EnvRegistry(ctx.db());
    const image = ctx.env.get("ROCK_ENVHUB_DEFAULT_DOCKER_IMAGE") || ctx.config.default_image;
    registry.register({ env_name: "EnvhubDefaultDockerImage", image, owner: "ENVHUB", description: "default image", tags: ["default", "system", "envhub"], extra_spec: null });

    return {
      http: {
        title: "ROCK EnvHub",
        errorBody: (e) => ({ detail: e.message }),
        // ROCK's envhub answers exactly {"status": "ok"}, and its own test compares the whole body.
        healthBody: ({ status, reason }) => (reason === undefined ? { status } : { status, reason }),
        mount: (app) =>
          app
            .post(
              "/env/register",
              ({ body }) =>
                registry.register({
                  env_name: body.env_name.trim(),
                  image: body.image.trim(),
                  owner: body.owner ?? "",
                  description: body.description ?? "",
                  tags: body.tags ?? [],
                  extra_spec: body.extra_spec ?? null,
                }),
              { body: E.Register, response: E.answers(E.EnvInfo) },
            )
            .post(
              "/env/get",
              ({ body }) => {
                const env = registry.get(body.env_name);
                if (!env) throw notFound(`Environment ${body.env_name} not found`);
                return env;
              },
              { body: E.ByName, response: E.answers(E.EnvInfo) },
            )
            .post("/env/list", ({ body }) => ({ envs: registry.list(body ?? {}) }), { body: E.ListFilter, response: E.answers(E.EnvList) })
            .post(
              "/env/delete",
              ({ body }) => {
                if (!registry.delete(body.env_name)) throw notFound(`Environment ${body.env_name} not found or already deleted`);
                return true;
              },
              { body: E.ByName, response: E.answers(t.Boolean()) },
            ),
      },
    };
  },
});
