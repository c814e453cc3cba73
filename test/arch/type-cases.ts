/**
 * Type tests: compiled by the tsc run in typecheck.test.ts, never executed. Each `@ts-expect-error` must meet an
 * error on its next line, so a contract that stops being checked (a handler's body turning `any`, an unchecked
 * `ctx.use`, a setup whose shape is not checked) fails that test as an unused directive.
 */
import { Type } from "@sinclair/typebox";
import { t } from "elysia";
import type { Deployment } from "../../core/kinds/deployment.ts";
import type { Operator } from "../../core/kinds/operator.ts";
import type { HttpService } from "../../core/kinds/service.ts";
import { definePlugin } from "../../core/plugin.ts";
import type { SandboxState, SandboxStatus } from "../../plugins/clients/sdk/index.ts";
import { chatAnswers } from "../../plugins/protocol/openai-chat/completion.ts";
import * as AdminResults from "../../plugins/protocol/rock-admin/results.ts";

declare const deployment: Deployment;

// A route handler's body has the type its schema declares.
export const mount: HttpService["mount"] = (app) =>
  app.post(
    "/greet",
    ({ body }) => {
      const name: string = body.name;
      // @ts-expect-error body.name is a string
      const count: number = body.name;
      // @ts-expect-error the schema declares no `age`
      return { name, count, age: body.age };
    },
    { body: t.Object({ name: t.String() }) },
  );

// A route's answer has the type its response schema declares (plugins/protocol); a streamed answer is a Response.
const ok = <T>(result: T) => ({ status: "Success" as const, message: null, error: null, result });
export const answered: HttpService["mount"] = (app) =>
  app
    .get("/alive", () => ok({ is_alive: true, message: "host" }), { response: AdminResults.answers(AdminResults.IsAlive) })
    // @ts-expect-error is_alive is a boolean
    .get("/dead", () => ok({ is_alive: "no", message: "" }), { response: AdminResults.answers(AdminResults.IsAlive) })
    .post("/chat", () => new Response("data: [DONE]\n\n"), { response: chatAnswers });

// The SDK's types are the admin's answer schemas'.
export const stateOf = (status: SandboxStatus): SandboxState => status.state;
// @ts-expect-error ROCK's archiving is not a state of ours
export const archiving: SandboxState = "archiving";

// ctx.use(name, kind) returns the instance type of that kind.
export const user = definePlugin({
  name: "user",
  kind: "service",
  version: "1.0.0",
  config: Type.Object({ operator: Type.String() }),
  dependencies: (config) => [config.operator],
  setup(ctx) {
    const operator: Operator = ctx.use(ctx.config.operator, "operator").operator;
    // @ts-expect-error an operator plugin provides no deployment
    ctx.use(ctx.config.operator, "operator").deployment;
    // @ts-expect-error the kind is required
    ctx.use(ctx.config.operator);
    // @ts-expect-error not a kind
    ctx.use(ctx.config.operator, "operators");
    return { http: { mount: (app) => app.get("/", () => operator.name) } };
  },
});

// A plugin returning the wrong shape for its kind does not compile; more than its kind's members is fine.
export const fine = definePlugin({ name: "fine", kind: "deployment", version: "1.0.0", setup: () => ({ deployment, stop() {}, extra: 1 }) });
// @ts-expect-error a deployment plugin returns `deployment`, not `operator`
export const wrongMember = definePlugin({ name: "wrong", kind: "deployment", version: "1.0.0", setup: () => ({ operator: {} as Operator }) });
export const missingMethod = definePlugin({
  name: "partial",
  kind: "deployment",
  version: "1.0.0",
  // @ts-expect-error deployment.list is missing
  setup: () => ({ deployment: { name: "partial", start: deployment.start, state: deployment.state, stop: deployment.stop } }),
});
export const badHook = definePlugin({
  name: "hook",
  kind: "filter",
  version: "1.0.0",
  // @ts-expect-error stop must be a function
  setup: () => ({ args: Type.Object({}), create: () => ({ ingress: (r) => r, egress: () => ({ write: (d) => d, flush: () => "" }) }), stop: true }),
});
