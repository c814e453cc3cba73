import { Type, type TObject, type TSchema } from "@sinclair/typebox";
import { hostname } from "node:os";
import { hostAllowed } from "../../../core/permissions/fetch.ts";
import { definePlugin } from "../../../core/plugin.ts";
import * as A from "../../protocol/agent/schemas.ts";
import { Balancer } from "./balancer.ts";
import { Dispatcher } from "./dispatcher.ts";
import { FormProblem, asForm, field, historyIdList, refusal, text } from "./form.ts";
import { HealthChecker } from "./health.ts";
import { WorkerLoad } from "./load.ts";
import { agentMetrics } from "./metrics.ts";
import { WorkerRegistry } from "./registry.ts";

const Config = Type.Object({
  worker_hosts: Type.Array(Type.String({ minLength: 1 }), {
    default: ["*"],
    description: 'Hosts workers may register from and the Agent may call ("host", "host:port", "*.domain", "*")',
  }),
  health_interval_ms: Type.Integer({ minimum: 50, default: 5000, description: "Pause between health-check rounds" }),
  health_timeout_ms: Type.Integer({ minimum: 10, default: 2000 }),
  health_failures: Type.Integer({ minimum: 1, default: 2, description: "Failed rounds in a row before a worker is dropped" }),
  reservation_ttl_ms: Type.Integer({ minimum: 100, default: 60_000, description: "How long a worker/schedule reservation waits for its chat" }),
  worker_timeout_ms: Type.Integer({ minimum: 100, default: 120_000, description: "Deadline for a worker's response head" }),
  abort_timeout_ms: Type.Integer({ minimum: 100, default: 10_000 }),
  agent_id: Type.Optional(
    Type.String({ minLength: 1, description: "Names this Agent among those sharing a store (default: host name and a random id per process); each needs its own" }),
  ),
  load_lease_ms: Type.Integer({ minimum: 300, default: 15_000, description: "How long the slots of an Agent that died stay counted; renewed every third of it" }),
});

/**
 * The form a route reads, for the OpenAPI document only: the routes check the fields themselves and answer in the
 * original's plain-text words.
 */
const formDoc = (schema: TObject) => ({
  detail: { requestBody: { required: true, content: { "application/x-www-form-urlencoded": { schema }, "multipart/form-data": { schema } } } },
});

/** Base URL (`scheme://host:port`), on which the Kernel matches unregistrations. */
const origin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
};

/**
 * The Worker Framework's Agent (Kuwa kernel): workers register under a name, chats are dispatched to the least
 * loaded worker of that name and streamed back. Routes under /v1.0 take form fields and answer plain text, as
 * the original does; registrations live in the store.
 */
export default definePlugin({
  name: "agent",
  kind: "service",
  version: "0.1.0",
  description: "Worker Framework Agent: worker registration, scheduling and chat dispatch (Kuwa /v1.0 API)",
  defaultPort: 9000,
  config: Config,
  permissions: (config) => ({ net: config.worker_hosts, store: "agent" }),
  setup(ctx) {
    const config = ctx.config;
    const registry = new WorkerRegistry(ctx.store);
    const agentId = config.agent_id ?? `${hostname()}:${crypto.randomUUID().slice(0, 8)}`;
    const load = new WorkerLoad(ctx.store, agentId, config.load_lease_ms, ctx.log);
    const balancer = new Balancer(load, ctx.store, config.reservation_ttl_ms);
    const metrics = agentMetrics(ctx.metrics, registry);
    const dispatcher = new Dispatcher(registry, balancer, metrics, ctx.log, {
      fetch: ctx.fetch,
      workerTimeoutMs: config.worker_timeout_ms,
      abortTimeoutMs: config.abort_timeout_ms,
    });
    const health = new HealthChecker(registry, balancer, metrics, ctx.log, {
      intervalMs: config.health_interval_ms,
      timeoutMs: config.health_timeout_ms,
      failures: config.health_failures,
      fetch: ctx.fetch,
    });

    /** Runs a route; a FormProblem becomes a 4xx answer carrying the route's own failure word. */
    const guarded = (word: string, route: (form: ReturnType<typeof asForm>, request: Request) => Response | Promise<Response>) =>
      async ({ body, request }: { body?: unknown; request: Request }) => {
        try {
          return await route(asForm(body), request);
        } catch (error) {
          if (error instanceof FormProblem) return refusal(error.field === "endpoint" && error.message.includes("allowed") ? 403 : 400, word, error);
          throw error;
        }
      };

    const registerEndpoint = (form: ReturnType<typeof asForm>) => {
      const raw = field(form, "endpoint", true);
      let url: URL;
      try {
        url = new URL(raw);
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
      } catch {
        throw new FormProblem("endpoint", "form field 'endpoint' must be an http(s) URL");
      }
      if (!hostAllowed(config.worker_hosts, url)) throw new FormProblem("endpoint", `host ${url.host} is not allowed (agent worker_hosts)`);
      return raw.replace(/\/$/, "");
    };

    return {
      async start() {
        await health.round(); // reloads registrations kept in the store and checks them before serving
        await load.start();
        health.start();
      },
      async stop() {
        await health.stop();
        dispatcher.stop();
        await balancer.stop();
      },
      http: {
        title: "Worker Framework Agent",
        mount(app) {
          const post = (path: string, form: TObject, answers: Record<number, TSchema>, handler: ReturnType<typeof guarded>) =>
            app.post(`/v1.0${path}`, (context: any) => handler(context), { ...formDoc(form), response: answers } as any);
          post(
            "/worker/register",
            A.RegisterForm,
            A.answers.register,
            guarded("Failed", async (form) => {
              const name = field(form, "name", true);
              const endpoint = registerEndpoint(form);
              const slotsText = field(form, "slots") ?? "1";
              const slots = Number(slotsText);
              if (!/^\d+$/.test(slotsText) || slots < 1) throw new FormProblem("slots", "form field 'slots' must be a positive integer");
              const added = await registry.add(name, endpoint, slots, field(form, "token"));
              if (added) ctx.log.info("worker registered", { name, endpoint });
              return text(added ? "Success" : "Failed");
            }),
          );
          post(
            "/worker/unregister",
            A.UnregisterForm,
            A.answers.unregister,
            guarded("Failed", async (form) => {
              const name = field(form, "name", true);
              const base = origin(field(form, "endpoint", true));
              const gone = registry.workers(name).filter((w) => origin(w.endpoint) === base);
              await registry.remove(name, (endpoint) => origin(endpoint) === base);
              for (const worker of gone) balancer.forget(worker.endpoint);
              if (gone.length) ctx.log.info("worker unregistered", { name, endpoint: base });
              return text(gone.length ? "Success" : "Failed");
            }),
          );
          post(
            "/worker/schedule",
            A.ScheduleForm,
            A.answers.schedule,
            guarded("BUSY", async (form) => {
              const name = field(form, "name", true);
              const historyId = field(form, "history_id", true);
              const userId = field(form, "user_id") ?? "";
              return text(await balancer.reserve(name, historyId, userId, registry.workers(name)));
            }),
          );
          app.get("/v1.0/worker/list", ({ query }: any) => {
            // With ?name=, the endpoints of that name (our addition; the original answers the names whatever the query).
            const name = typeof query?.name === "string" ? (query.name as string) : undefined;
            return Response.json(name === undefined ? registry.names() : registry.workers(name).map((w) => w.endpoint));
          }, { query: A.ListQuery, response: A.answers.list });
          post(
            "/chat/completions",
            A.ChatForm,
            A.answers.chat,
            guarded("", (form, request) => dispatcher.complete(form, request.headers)),
          );
          post(
            "/chat/abort",
            A.AbortForm,
            A.answers.abort,
            guarded("Failed", async (form) => {
              const historyIds = historyIdList(field(form, "history_id", true));
              const userId = field(form, "user_id", true);
              await dispatcher.abort(historyIds, userId);
              return text("Success");
            }),
          );
        },
      },
    };
  },
});
