/**
 * A service may accept the server's token in another header (`tokenHeaders`: E2B's X-API-Key), credentials of its own
 * (`authenticate`: a per-sandbox access token), and shape errors by path (the admin speaks ROCK's and E2B's protocols).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Kernel } from "../../core/kernel.ts";
import { tempProject, type TempProject } from "../support/project.ts";

let project: TempProject;
let kernel: Kernel;
let base: string;
let runs = 0;

beforeAll(async () => {
  project = tempProject();
  (globalThis as { credentialRuns?: () => void }).credentialRuns = () => void runs++;
  project.plugin(
    "plugins/services",
    "keyed",
    `{
  name: "keyed",
  kind: "service",
  version: "1.0.0",
  defaultPort: 0,
  setup() {
    return {
      http: {
        tokenHeaders: ["X-API-Key"],
        serveByHost: (request) =>
          request.headers.get("host")?.endsWith(".routed.test") ? Promise.resolve(new Response("by host " + new URL(request.url).pathname)) : undefined,
        authenticate: (request, path) => path.startsWith("/own/") && request.headers.get("x-own-token") === "own-" + path.slice(5),
        errorBody: (e) => (e.path.startsWith("/own/") || e.path.startsWith("/e2b/") ? { code: e.status, message: e.message } : { detail: e.message }),
        errorStatus: (status, path) => (path.startsWith("/e2b/") && status === 422 ? 400 : status),
        mount: (app) =>
          app
            .get("/e2b/ping", () => { globalThis.credentialRuns(); return { pong: true }; })
            .get("/own/:id", ({ params }) => { globalThis.credentialRuns(); return { id: params.id }; })
            .get("/plain", () => { globalThis.credentialRuns(); return { plain: true }; }),
      },
    };
  },
}`,
  );
  project.config("plugins:\n  keyed:\n    token: s3cret-token\n");
  kernel = await Kernel.load({ root: project.root });
  await kernel.start();
  base = kernel.server("keyed")!.url;
});

afterAll(async () => {
  await kernel?.stop();
  project?.remove();
});

test("the token in a declared header is accepted like a bearer token; a wrong one is not", async () => {
  expect((await fetch(`${base}/e2b/ping`, { headers: { "x-api-key": "s3cret-token" } })).status).toBe(200);
  expect((await fetch(`${base}/plain`, { headers: { authorization: "Bearer s3cret-token" } })).status).toBe(200);
  const before = runs;
  const wrong = await fetch(`${base}/e2b/ping`, { headers: { "x-api-key": "s3cret-tokem" } });
  expect(wrong.status).toBe(401);
  // The error is in the route's shape and names the header.
  expect(await wrong.json()).toEqual({ code: 401, message: "missing or invalid bearer token (Authorization: Bearer <token> or X-API-Key: <token>)" });
  // An undeclared header does not carry the token.
  expect((await fetch(`${base}/plain`, { headers: { "x-other-key": "s3cret-token" } })).status).toBe(401);
  expect(runs).toBe(before);
});

test("the service's own credentials open exactly the routes it accepts them for", async () => {
  expect(await (await fetch(`${base}/own/a1`, { headers: { "x-own-token": "own-a1" } })).json()).toEqual({ id: "a1" });
  const before = runs;
  for (const [path, headers] of [
    ["/own/a1", { "x-own-token": "own-b2" }],
    ["/own/b2", { "x-own-token": "own-a1" }],
    ["/plain", { "x-own-token": "own-a1" }],
  ] as const) {
    expect([path, (await fetch(base + path, { headers })).status]).toEqual([path, 401]);
  }
  expect(runs).toBe(before);
  expect(await (await fetch(`${base}/plain`)).json()).toEqual({ detail: expect.stringContaining("bearer token") });
});

test("serveByHost answers for the hosts it takes, after the token check; other hosts reach the routes", async () => {
  const routed = (headers: Record<string, string>) => fetch(`${base}/plain`, { headers: { host: "a.routed.test", ...headers } });
  const served = await routed({ authorization: "Bearer s3cret-token" });
  expect([served.status, await served.text()]).toEqual([200, "by host /plain"]);
  expect((await routed({})).status).toBe(401);
  const before = runs;
  expect(await (await fetch(`${base}/plain`, { headers: { authorization: "Bearer s3cret-token" } })).json()).toEqual({ plain: true });
  expect(runs).toBe(before + 1);
});
