/**
 * core/http/lenient.ts: a schema made lenient accepts null for each optional field at any depth, never for a required
 * one; the HTTP host removes those nulls before the handler runs; a query bool is read as pydantic reads one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { Elysia, t } from "elysia";
import { Registry } from "prom-client";
import { QueryBool, lenient, lenientQuery, nullStripper } from "../../core/http/lenient.ts";
import { startServer, type RunningServer } from "../../core/http/server.ts";
import { createLogger } from "../../core/log.ts";

const Call = t.Object({ id: t.Optional(t.String()), fn: t.Object({ name: t.String(), note: t.Optional(t.String()) }) });
const Body = lenient(
  t.Object({
    name: t.String(),
    size: t.Optional(t.Number()),
    already: t.Optional(t.Nullable(t.String())),
    calls: t.Optional(t.Array(Call)),
    data: t.Optional(t.Record(t.String(), t.Any())),
    either: t.Optional(t.Union([t.String(), Call])),
  }),
);

describe("lenient(schema)", () => {
  test("an optional field accepts null, at every depth of objects, arrays and unions", () => {
    expect(Value.Check(Body, { name: "a", size: null, already: null, calls: [{ id: null, fn: { name: "f", note: null } }], data: null, either: null })).toBe(true);
    expect(Value.Check(Body, { name: "a", either: { id: null, fn: { name: "f" } } })).toBe(true);
  });

  test("a required field stays required and non-null; types stay checked", () => {
    expect(Value.Check(Body, { name: null })).toBe(false);
    expect(Value.Check(Body, {})).toBe(false);
    expect(Value.Check(Body, { name: "a", calls: [{ fn: null }] })).toBe(false);
    expect(Value.Check(Body, { name: "a", calls: [{ fn: { name: null } }] })).toBe(false);
    expect(Value.Check(Body, { name: "a", size: "big" })).toBe(false);
  });

  test("the original schema is left as it was", () => {
    expect(Value.Check(Call, { id: null, fn: { name: "f" } })).toBe(false);
  });

  test("the stripper removes nulls of optional fields only, never inside the client's own data", () => {
    const body: any = { name: "a", size: null, already: null, calls: [{ id: null, fn: { name: "f", note: null } }], data: { keep: null }, either: { id: null, fn: { name: "g" } } };
    nullStripper(Body)!(body);
    expect(body).toEqual({ name: "a", calls: [{ fn: { name: "f" } }], data: { keep: null }, either: { fn: { name: "g" } } });
    expect("size" in body).toBe(false);
  });

  test("a schema without optional fields has no stripper", () => {
    expect(nullStripper(lenient(t.Object({ id: t.String() })))).toBeUndefined();
  });
});

describe("query bools, as pydantic reads them", () => {
  const Bool = QueryBool();
  test.each(["True", "true", "TRUE", "1", "yes", "Yes", "on", "ON", "t", "y"])("%s is true", (text) => {
    expect(Value.Decode(Bool, text)).toBe(true);
  });
  test.each(["False", "false", "0", "no", "NO", "off", "f", "n"])("%s is false", (text) => {
    expect(Value.Decode(Bool, text)).toBe(false);
  });
  test.each(["", "2", "truthy", "yess", " true"])("%p is refused", (text) => {
    expect(Value.Check(Bool, text)).toBe(false);
  });
  test("lenientQuery turns a declared boolean into one, and keeps it optional", () => {
    const Query = lenientQuery(Type.Object({ id: Type.String(), all: Type.Optional(Type.Boolean()) }));
    expect(Value.Decode(Query, { id: "x", all: "True" })).toEqual({ id: "x", all: true });
    expect(Value.Decode(Query, { id: "x" })).toEqual({ id: "x" });
  });
});

describe("the HTTP host applies them to every route", () => {
  let server: RunningServer;
  const seen: unknown[] = [];
  beforeAll(async () => {
    server = await startServer({
      name: "lenient-test",
      version: "0",
      host: "127.0.0.1",
      port: 0,
      registry: new Registry(),
      log: createLogger({ plugin: "lenient-test" }),
      service: {
        mount: (app: Elysia) =>
          app
            .post("/body", ({ body }) => (seen.push(body), { ok: true }), { body: Body })
            .get("/query", ({ query }) => ({ all: query.all ?? null, page: query.page ?? null }), {
              query: lenientQuery(t.Object({ all: t.Optional(t.Boolean()), page: t.Optional(t.Integer({ minimum: 1 })) })),
            }),
      } as any,
    });
  });
  afterAll(() => server?.stop());

  const post = (body: unknown) => fetch(`${server.url}/body`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  test("the handler sees an optional null as absent; a required null is a 400 naming the field", async () => {
    seen.length = 0;
    expect((await post({ name: "a", size: null, calls: [{ id: null, fn: { name: "f", note: null } }], data: { keep: null } })).status).toBe(200);
    expect(seen).toEqual([{ name: "a", calls: [{ fn: { name: "f" } }], data: { keep: null } }]);
    const refused = await post({ name: null });
    expect(refused.status).toBe(400);
    expect((await refused.json()).error.field).toBe("name");
  });

  test("query: True/1/yes are true, numeric text is an integer, other words are a 400 naming the parameter", async () => {
    for (const [text, value] of [["True", true], ["1", true], ["yes", true], ["on", true], ["False", false], ["0", false], ["no", false], ["off", false]] as const) {
      expect(await (await fetch(`${server.url}/query?all=${text}`)).json()).toEqual({ all: value, page: null });
    }
    expect(await (await fetch(`${server.url}/query?page=3`)).json()).toEqual({ all: null, page: 3 });
    const bad = await fetch(`${server.url}/query?all=maybe`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.field).toBe("all");
  });
});
