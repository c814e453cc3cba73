import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  AuthenticationRockError,
  BadRequestRockError,
  ConnectionRockError,
  RockClient,
  RockError,
  Sandbox,
} from "../../plugins/clients/sdk/index.ts";
import { freePort } from "../support/project.ts";
import { bootAdminKernel, localAdminYaml, newSandboxId, type RunningAdmin } from "./support.ts";

const TOKEN = "sdk-test-token";
let admin: RunningAdmin;

beforeAll(async () => {
  admin = await bootAdminKernel(localAdminYaml({ token: TOKEN, adminYaml: "    max_cpus: 4\n    max_memory: 2g\n" }));
});
afterAll(async () => {
  await admin?.close();
});

/** The rejection of `promise`, which must be one. */
async function rejection(promise: Promise<unknown>): Promise<RockError> {
  try {
    await promise;
  } catch (error) {
    return error as RockError;
  }
  throw new Error("expected a rejection");
}

describe("SDK: bad input raises typed errors that name the problem", () => {
  const sandbox = (overrides: Partial<ConstructorParameters<typeof Sandbox>[0]> = {}) =>
    new Sandbox({ baseUrl: admin.baseUrl, token: TOKEN, image: "python:3.11", memory: "1g", sandboxId: newSandboxId("bad"), ...overrides });

  test("checked before any call: a blank image, a bad base URL, no sandbox id yet, an unreadable upload source", async () => {
    expect(() => new Sandbox({ baseUrl: admin.baseUrl, image: "  " })).toThrow(BadRequestRockError);
    expect(() => new Sandbox({ baseUrl: admin.baseUrl, image: "" })).toThrow("image must be a non-blank image name");
    expect(() => new RockClient({ baseUrl: "127.0.0.1:8080" })).toThrow("baseUrl must be an http(s) URL");
    expect(() => sandbox().sandboxId).not.toThrow();
    expect(() => new Sandbox({ baseUrl: admin.baseUrl, image: "x" }).sandboxId).toThrow("call start() first");
    const client = new RockClient({ baseUrl: admin.baseUrl, token: TOKEN });
    await expect(client.execute(" ", "ls")).rejects.toThrow("sandbox_id must be a non-blank string");
    await expect(client.upload("ghost", "/nonexistent/file.bin", "/tmp/x")).rejects.toThrow("cannot read '/nonexistent/file.bin' for upload: no such file");
  });

  test("refused by the admin with code 4000: resources above the maximum, a bad memory size, an invalid id, a bad value", async () => {
    const cpus = await rejection(sandbox({ cpus: 8 }).start());
    expect(cpus).toBeInstanceOf(BadRequestRockError);
    expect(cpus).toMatchObject({ code: 4000, routeMessage: "start sandbox failed", message: "start sandbox failed: cpus 8 exceeds the maximum of 4" });
    expect((await rejection(sandbox({ memory: "3g" }).start())).message).toContain("memory 3g exceeds the maximum of 2.00g");
    expect((await rejection(sandbox({ memory: "lots" }).start())).message).toContain("memory 'lots'");
    expect((await rejection(sandbox({ sandboxId: "../etc" }).start())).message).toContain("sandbox_id '../etc' is invalid");
    const negative = await rejection(sandbox({ cpus: -1 }).start());
    expect(negative).toBeInstanceOf(BadRequestRockError);
    expect(negative.message).toStartWith("invalid parameter: cpus");
  });

  test("an unknown sandbox: 4000 naming it; deleting it succeeds as in ROCK", async () => {
    const ghost = Sandbox.attach("ghost", { baseUrl: admin.baseUrl, token: TOKEN });
    const failure = await rejection(ghost.execute("ls"));
    expect(failure).toBeInstanceOf(BadRequestRockError);
    expect(failure).toMatchObject({ code: 4000, message: "execute command failed: Sandbox ghost not found" });
    await expect(ghost.status()).rejects.toThrow("Sandbox ghost not found");
    await expect(ghost.stop()).rejects.toBeInstanceOf(BadRequestRockError);
    await expect(ghost.start()).rejects.toThrow("already started");
    expect(await ghost.isAlive()).toBe(false);
    await ghost.delete();
  });

  test("the bearer token: missing or wrong is an AuthenticationRockError; ROCK_API_TOKEN is the default", async () => {
    for (const token of [undefined, "wrong"]) {
      const failure = await rejection(new RockClient({ baseUrl: admin.baseUrl, token }).list());
      expect(failure).toBeInstanceOf(AuthenticationRockError);
      expect(failure).toMatchObject({ httpStatus: 401 });
      expect(failure.message).toContain("bearer token");
    }
    expect((await new RockClient({ baseUrl: admin.baseUrl, token: TOKEN }).list()).total).toBe(0);
    const saved = process.env.ROCK_API_TOKEN;
    process.env.ROCK_API_TOKEN = TOKEN;
    try {
      expect((await new RockClient({ baseUrl: admin.baseUrl }).list()).total).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.ROCK_API_TOKEN;
      else process.env.ROCK_API_TOKEN = saved;
    }
  });

  test("an admin that is not there: ConnectionRockError naming the address", async () => {
    const url = `http://127.0.0.1:${freePort()}`;
    const failure = await rejection(new RockClient({ baseUrl: url }).list());
    expect(failure).toBeInstanceOf(ConnectionRockError);
    expect(failure.message).toContain(`the admin at ${url} is not reachable`);
  });
});
