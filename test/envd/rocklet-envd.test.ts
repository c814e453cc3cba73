/**
 * envd's data plane in the rocklet, driven by the official e2b SDK pointed straight at it (`sandboxUrl`), and by raw
 * requests where the shape matters (tokens, malformed Connect bodies).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AuthenticationError, CommandExitError, FileType, InvalidArgumentError, NotFoundError, TimeoutError } from "e2b";
import { execSync } from "node:child_process";
import { existsSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { setDefaultTimeout } from "bun:test";
import { scratchDir, startTestRocklet, type TestRocklet } from "../rocklet/harness.ts";
import { sdkSandbox } from "./harness.ts";
import { StartRequestSchema, StartResponseSchema } from "../../plugins/protocol/envd/process/process_pb.ts";

setDefaultTimeout(30_000); // two shared cores: a login shell can take seconds to start

let rocklet: TestRocklet;
const dir = scratchDir("envd-");
// Commands run under `bash -l`; with the host's HOME a login profile may run hooks (pyenv's rehash takes a lock)
// that a killed command would leave behind. Commands that get killed use a HOME without a profile.
const noProfile = { HOME: dir };

beforeAll(() => {
  rocklet = startTestRocklet();
});
afterAll(() => rocklet.stop());

describe("commands", () => {
  test("run returns exit code, stdout and stderr, with the request's env and cwd", async () => {
    const sandbox = sdkSandbox(rocklet);
    const result = await sandbox.commands.run('echo "out $GREETING"; echo err >&2; pwd', { cwd: dir, envs: { GREETING: "hi" } });
    expect(result).toMatchObject({ exitCode: 0, stdout: `out hi\n${dir}\n`, stderr: "err\n" });
    const failed = await sandbox.commands.run("echo partial; exit 3").catch((error) => error);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect(failed).toMatchObject({ exitCode: 3, stdout: "partial\n" });
  });

  test("user: a command runs as the user it names (the rocklet runs as root), or is refused naming why", async () => {
    const sandbox = sdkSandbox(rocklet);
    const missing = await sandbox.commands.run("id -un", { user: "no-such-user-e2b" }).catch((e) => e);
    expect(missing).toBeInstanceOf(InvalidArgumentError);
    expect(missing.message).toContain("user 'no-such-user-e2b'");
    if (process.getuid?.() === 0) {
      const result = await sandbox.commands.run("id -un; echo $HOME; pwd", { user: "nobody", envs: noProfile });
      expect(result.stdout.split("\n")[0]).toBe("nobody");
      expect((await sandbox.commands.run("id -un", { user: "root" })).stdout).toBe("root\n");
    } else {
      const refused = await sandbox.commands.run("id -un", { user: "nobody" }).catch((e) => e);
      expect(refused.message).toContain("needs the rocklet to run as root");
    }
  });

  test("output streams while the command runs", async () => {
    const sandbox = sdkSandbox(rocklet);
    const started = Date.now();
    let firstAt = 0;
    const result = await sandbox.commands.run("echo first; sleep 1.5; echo second", {
      onStdout: () => {
        firstAt ||= Date.now() - started;
      },
    });
    const total = Date.now() - started;
    expect(result.stdout).toBe("first\nsecond\n");
    expect(total).toBeGreaterThan(1400);
    expect(firstAt).toBeLessThan(total - 1000);
  });

  test("a short command's start event leaves with its output (one chunk less per hop); a silent one's at once", async () => {
    const body = (() => {
      const payload = new TextEncoder().encode(JSON.stringify({ process: { cmd: "/bin/echo", args: ["hi"] } }));
      const bytes = new Uint8Array(5 + payload.length);
      new DataView(bytes.buffer).setUint32(1, payload.length);
      bytes.set(payload, 5);
      return bytes;
    })();
    let together = 0;
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${rocklet.url}/process.Process/Start`, {
        method: "POST",
        headers: { "x-access-token": rocklet.token, "content-type": "application/connect+json" },
        body,
      });
      const reader = response.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      if (first.includes('"start"') && first.includes(`"stdout":"${btoa("hi\n")}"`)) together++;
      while (!(await reader.read()).done);
    }
    // Sent apart, the start event reaches the client alone most times (together 3 times in 10 when the client reads
    // late); held, nearly never (the hold is 5 ms, an echo on a loaded machine may take longer).
    expect(together).toBeGreaterThanOrEqual(12);
    const started = performance.now();
    const silent = await sdkSandbox(rocklet).commands.run("sleep 30", { background: true, envs: noProfile });
    expect(performance.now() - started).toBeLessThan(1_000);
    await silent.kill();
  });

  test("a background command takes stdin, shows in list, and kill ends it", async () => {
    const sandbox = sdkSandbox(rocklet);
    const seen: string[] = [];
    const handle = await sandbox.commands.run("cat", { background: true, stdin: true, envs: noProfile, onStdout: (data) => void seen.push(data) });
    expect((await sandbox.commands.list()).map((p) => p.pid)).toContain(handle.pid);
    await sandbox.commands.sendStdin(handle.pid, "ping\n");
    for (let i = 0; i < 50 && seen.join("") !== "ping\n"; i++) await Bun.sleep(20);
    expect(seen.join("")).toBe("ping\n");
    expect(await sandbox.commands.kill(handle.pid)).toBe(true);
    const ended = await handle.wait().catch((error) => error);
    expect(ended).toBeInstanceOf(CommandExitError);
    expect(ended.exitCode).toBe(-1);
    expect((await sandbox.commands.list()).map((p) => p.pid)).not.toContain(handle.pid);
    expect(await sandbox.commands.kill(handle.pid)).toBe(false);
  });

  test("a client that disconnects leaves the command running; connect picks up its output", async () => {
    const sandbox = sdkSandbox(rocklet);
    const marker = join(dir, "after-disconnect");
    const handle = await sandbox.commands.run(`sleep 0.5; echo later; touch ${marker}`, { background: true });
    await handle.disconnect();
    const again = await sandbox.commands.connect(handle.pid);
    const result = await again.wait();
    expect(result.stdout).toBe("later\n");
    expect(existsSync(marker)).toBe(true);
  });

  test("the call's timeout kills the command", async () => {
    const sandbox = sdkSandbox(rocklet);
    const command = "sleep 7.25; echo timed-out-command";
    const error = await sandbox.commands.run(command, { timeoutMs: 500, envs: noProfile }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    const stillRunning = async () => (await sandbox.commands.list()).some((p) => p.args.includes(command));
    for (let i = 0; i < 100 && (await stillRunning()); i++) await Bun.sleep(20);
    expect(await stillRunning()).toBe(false);
  });
});

describe("files", () => {
  test("text and binary (1 MiB) round trips, multipart and octet-stream uploads", async () => {
    const sandbox = sdkSandbox(rocklet);
    const text = join(dir, "files", "nested", "a.txt");
    expect(await sandbox.files.write(text, "héllo")).toMatchObject({ name: "a.txt", type: "file", path: text });
    expect(await sandbox.files.read(text)).toBe("héllo");

    const binary = crypto.getRandomValues(new Uint8Array(1024 * 1024));
    await sandbox.files.write(join(dir, "files", "blob.bin"), binary.buffer as ArrayBuffer);
    const back = await sandbox.files.read(join(dir, "files", "blob.bin"), { format: "bytes" });
    expect(Buffer.compare(Buffer.from(back), Buffer.from(binary))).toBe(0);

    // A stream goes up as application/octet-stream (envd ≥ 0.5.7); several files as one multipart body.
    const streamed = join(dir, "files", "streamed.txt");
    await sandbox.files.write(streamed, new Blob(["from a stream"]).stream());
    expect(await sandbox.files.read(streamed)).toBe("from a stream");
    const many = await sandbox.files.write([
      { path: join(dir, "files", "m1.txt"), data: "one" },
      { path: join(dir, "files", "m2.txt"), data: "two" },
    ]);
    expect(many.map((entry) => entry.name)).toEqual(["m1.txt", "m2.txt"]);
    expect(await sandbox.files.read(join(dir, "files", "m2.txt"))).toBe("two");
  });

  test("user: files written and directories made for a user belong to that user (the rocklet runs as root)", async () => {
    const sandbox = sdkSandbox(rocklet);
    expect(await sandbox.files.write(join(dir, "x.txt"), "x", { user: "no-such-user-e2b" }).catch((e) => e)).toBeInstanceOf(AuthenticationError);
    if (process.getuid?.() !== 0) return; // needs root to give files away; the refusal above holds either way
    const file = join(dir, "owned", "sub", "f.txt");
    await sandbox.files.write(file, "mine", { user: "nobody" });
    await sandbox.files.makeDir(join(dir, "owned-dir", "a"), { user: "nobody" });
    const owner = (path: string) => statSync(path).uid;
    const nobody = Number(execSync("id -u nobody").toString());
    for (const path of [join(dir, "owned"), join(dir, "owned", "sub"), file, join(dir, "owned-dir"), join(dir, "owned-dir", "a")]) {
      expect([path, owner(path)]).toEqual([path, nobody]);
    }
    // Without a user, files belong to the rocklet's user.
    await sandbox.files.write(join(dir, "mine.txt"), "x");
    expect(owner(join(dir, "mine.txt"))).toBe(0);
  });

  test("list, makeDir, exists, getInfo, rename, remove", async () => {
    const sandbox = sdkSandbox(rocklet);
    const root = join(dir, "tree");
    expect(await sandbox.files.makeDir(join(root, "sub"))).toBe(true);
    expect(await sandbox.files.makeDir(join(root, "sub"))).toBe(false);
    await sandbox.files.write(join(root, "sub", "f.txt"), "12345");
    expect((await sandbox.files.list(root)).map((e) => e.name)).toEqual(["sub"]);
    expect((await sandbox.files.list(root, { depth: 2 })).map((e) => e.path)).toEqual([join(root, "sub"), join(root, "sub", "f.txt")]);
    const info = await sandbox.files.getInfo(join(root, "sub", "f.txt"));
    expect(info).toMatchObject({ name: "f.txt", type: "file", size: 5, permissions: "-rw-r--r--" });
    expect((await sandbox.files.getInfo(join(root, "sub"))).type).toBe(FileType.DIR);
    const moved = await sandbox.files.rename(join(root, "sub", "f.txt"), join(root, "g.txt"));
    expect(moved.path).toBe(join(root, "g.txt"));
    expect(await sandbox.files.exists(join(root, "sub", "f.txt"))).toBe(false);
    await sandbox.files.remove(root);
    expect(await sandbox.files.exists(root)).toBe(false);
  });

  test("a FIFO or a device is refused on read, not streamed forever", async () => {
    const sandbox = sdkSandbox(rocklet);
    const fifo = join(dir, "fifo");
    execSync(`mkfifo ${fifo}`);
    for (const path of [fifo, "/dev/zero"]) {
      const error = await sandbox.files.read(path, { requestTimeoutMs: 5_000 }).catch((e) => e);
      expect(String(error)).toContain(`path '${path}' is not a regular file`);
    }
  });

  test("a missing file is NotFoundError on read, stat and remove", async () => {
    const sandbox = sdkSandbox(rocklet);
    const missing = join(dir, "no-such-file");
    for (const call of [() => sandbox.files.read(missing), () => sandbox.files.getInfo(missing), () => sandbox.files.remove(missing)]) {
      const error = await call().catch((e) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error.message).toContain(missing);
    }
  });
});

describe("terminals", () => {
  test("pty: a shell in a terminal takes input, answers with its output, is resized and killed", async () => {
    const sandbox = sdkSandbox(rocklet);
    const decoder = new TextDecoder();
    let output = "";
    const terminal = await sandbox.pty.create({ cols: 80, rows: 24, envs: noProfile, onData: (data) => void (output += decoder.decode(data, { stream: true })) });
    const until = async (text: string) => {
      for (let i = 0; i < 250 && !output.includes(text); i++) await Bun.sleep(20);
      expect(output).toContain(text);
    };
    await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode("tty; stty size; echo $((6*7))\n"));
    await until("42");
    expect(output).toMatch(/\/dev\/pts\/\d+/);
    expect(output).toContain("24 80");
    await sandbox.pty.resize(terminal.pid, { cols: 100, rows: 30 });
    await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode("stty size\n"));
    await until("30 100");
    expect(await sandbox.pty.kill(terminal.pid)).toBe(true);
    expect(await terminal.wait().catch((e) => e)).toBeInstanceOf(CommandExitError);
    // A process without a terminal takes no terminal input.
    const plain = await sandbox.commands.run("sleep 5", { background: true, envs: noProfile });
    expect(String(await sandbox.pty.sendInput(plain.pid, new Uint8Array([10])).catch((e) => e))).toContain("has no PTY");
    await plain.kill();
  });
});

describe("watches and keepalives", () => {
  test("watchDir reports files created, written and removed, recursively when asked, until stopped", async () => {
    const sandbox = sdkSandbox(rocklet);
    const root = join(dir, "watched");
    await sandbox.files.makeDir(join(root, "sub"));
    const seen: string[] = [];
    const handle = await sandbox.files.watchDir(root, (event) => void seen.push(`${event.type} ${event.name}`), { recursive: true });
    await sandbox.files.write(join(root, "a.txt"), "1");
    await sandbox.files.write(join(root, "sub", "b.txt"), "2");
    await sandbox.files.remove(join(root, "a.txt"));
    // Created and removed at once: still a create and a remove, however late the events are handled.
    await Bun.write(join(root, "brief.txt"), "x");
    unlinkSync(join(root, "brief.txt"));
    const want = ["create a.txt", "create sub/b.txt", "remove a.txt", "create brief.txt", "remove brief.txt"];
    for (let i = 0; i < 250 && !want.every((w) => seen.includes(w)); i++) await Bun.sleep(20);
    expect(seen).toEqual(expect.arrayContaining(want));
    expect(seen.filter((e) => e === "remove a.txt")).toHaveLength(1);
    await handle.stop();
    const count = seen.length;
    await sandbox.files.write(join(root, "after-stop.txt"), "3");
    await Bun.sleep(200);
    expect(seen.length).toBe(count);
    expect(await sandbox.files.watchDir(join(root, "missing"), () => undefined).catch((e) => e)).toBeInstanceOf(NotFoundError);
  });

  test("a silent stream gets keepalive events at the client's Keepalive-Ping-Interval", async () => {
    const body = JSON.stringify({ process: { cmd: "sleep", args: ["2.2"] }, stdin: false });
    const frame = new Uint8Array(5 + body.length);
    frame.set(new TextEncoder().encode(body), 5);
    new DataView(frame.buffer).setUint32(1, body.length);
    const response = await fetch(`${rocklet.url}/process.Process/Start`, {
      method: "POST",
      headers: { "x-access-token": rocklet.token, "content-type": "application/connect+json", "keepalive-ping-interval": "1" },
      body: frame,
    });
    const text = await response.text();
    expect(text).toContain('"start"');
    expect(text.match(/"keepalive"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toContain('"end"');
  });
});

describe("bad input", () => {
  test("a wrong access token is refused on RPCs and on /files, and nothing runs", async () => {
    const sandbox = sdkSandbox(rocklet, "wrong-token");
    const marker = join(dir, "wrong-token");
    expect(await sandbox.commands.run(`touch ${marker}`).catch((e) => e)).toBeInstanceOf(AuthenticationError);
    expect(await sandbox.files.write(marker, "x").catch((e) => e)).toBeInstanceOf(AuthenticationError);
    expect(existsSync(marker)).toBe(false);
    // /health needs no token (the SDK probes it to tell a dead sandbox from a network error).
    expect((await fetch(`${rocklet.url}/health`)).status).toBe(204);
  });

  test("a call for another port needs the token; a bad or the rocklet's own port is refused naming it", async () => {
    let hits = 0;
    const service = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(`hit ${++hits}`) });
    try {
      const call = (port: string, headers: Record<string, string> = { "x-access-token": rocklet.token }) =>
        fetch(`${rocklet.url}/anything`, { headers: { "x-rocklet-forward-port": port, ...headers } });
      expect(await (await call(String(service.port))).text()).toBe("hit 1");
      expect((await call(String(service.port), {})).status).toBe(401);
      expect((await call(String(service.port), { "x-access-token": "wrong" })).status).toBe(401);
      expect(hits).toBe(1);
      for (const [port, message] of [
        ["0", "is not a port"],
        ["70000", "is not a port"],
        ["8o", "is not a port"],
        [String(rocklet.port), "the rocklet's own"],
      ]) {
        const refused = await call(port);
        expect([port, refused.status, (await refused.json()).message]).toEqual([port, 400, expect.stringContaining(message)]);
      }
    } finally {
      service.stop(true);
    }
  });

  test("malformed Connect bodies and unknown requests get Connect or envd errors, never a 5xx", async () => {
    const headers = { "x-access-token": rocklet.token, "content-type": "application/json" };
    const rpc = (path: string, body: string, extra: Record<string, string> = {}) =>
      fetch(`${rocklet.url}${path}`, { method: "POST", headers: { ...headers, ...extra }, body });
    const cases: [Response, number, string][] = [
      [await rpc("/process.Process/List", "{not json"), 400, "invalid_argument"],
      [await rpc("/filesystem.Filesystem/Stat", JSON.stringify({ path: 5 })), 400, "invalid_argument"],
      [await rpc("/filesystem.Filesystem/Stat", JSON.stringify({ path: "" })), 400, "invalid_argument"],
      [await rpc("/process.Process/SendSignal", JSON.stringify({ process: { pid: 1 }, signal: "SIGNAL_SIGKILL" })), 404, "not_found"],
      [await rpc("/process.Process/List", "{}", { "content-type": "text/plain" }), 415, ""],
    ];
    for (const [response, status, code] of cases) {
      const text = await response.text();
      expect({ status: response.status, text }).toMatchObject({ status });
      if (code) expect(JSON.parse(text).code).toBe(code);
    }
    // A Start stream with no command ends with an error in the stream (end-stream message), naming the field.
    const start = await rpc("/process.Process/Start", "\0\0\0\0\x02{}", { "content-type": "application/connect+json" });
    expect(start.status).toBe(200);
    expect(await start.text()).toContain("process.cmd: required");
    const files = await fetch(`${rocklet.url}/files?path=${encodeURIComponent(dir)}`, { headers });
    expect(files.status).toBe(400);
    expect(await files.json()).toEqual({ code: 400, message: `path '${dir}' is a directory` });
    const noPath = await fetch(`${rocklet.url}/files`, { method: "POST", headers, body: "{}" });
    expect(noPath.status).toBe(400);
    expect((await noPath.json()).message).toContain("content-type");
  });

  test("Start answers every shape a Connect client may send: JSON, binary, and the odd ones the library refuses", async () => {
    const envelope = (flags: number, payload: Uint8Array) => {
      const bytes = new Uint8Array(5 + payload.length);
      bytes[0] = flags;
      new DataView(bytes.buffer).setUint32(1, payload.length);
      bytes.set(payload, 5);
      return bytes;
    };
    const json = (message: unknown) => envelope(0, new TextEncoder().encode(JSON.stringify(message)));
    const frames = (bytes: Uint8Array) => {
      const out: { flags: number; payload: Uint8Array }[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
        out.push({ flags: bytes[at], payload: bytes.subarray(at + 5, at + 5 + size) });
        at += 5 + size;
      }
      return out;
    };
    const start = async (body: Uint8Array, extra: Record<string, string> = {}) => {
      const response = await fetch(`${rocklet.url}/process.Process/Start`, {
        method: "POST",
        headers: { "x-access-token": rocklet.token, "content-type": "application/connect+json", ...extra },
        body,
      });
      return { status: response.status, type: response.headers.get("content-type"), frames: frames(new Uint8Array(await response.arrayBuffer())) };
    };
    const echo = { process: { cmd: "/bin/sh", args: ["-c", "echo hi"] }, stdin: false };
    const text = (payload: Uint8Array) => new TextDecoder().decode(payload);

    // JSON: start, data, end, then the end of the stream with no error.
    const plain = await start(json(echo));
    expect([plain.status, plain.type]).toEqual([200, "application/connect+json"]);
    const events = plain.frames.slice(0, -1).map((f) => JSON.parse(text(f.payload)).event);
    expect(Object.keys(events[0])).toEqual(["start"]);
    expect(events.some((e) => e.data?.stdout === btoa("hi\n"))).toBe(true);
    expect(events.at(-1).end).toMatchObject({ exited: true, status: "exit status 0" });
    expect(plain.frames.at(-1)).toEqual({ flags: 2, payload: new TextEncoder().encode("{}") });

    // Binary (protobuf): the same events, as protobuf messages.
    const binary = await start(envelope(0, toBinary(StartRequestSchema, create(StartRequestSchema, echo))), { "content-type": "application/connect+proto" });
    expect([binary.status, binary.type]).toEqual([200, "application/connect+proto"]);
    const decoded = binary.frames.slice(0, -1).map((f) => fromBinary(StartResponseSchema, f.payload).event!.event);
    expect(decoded[0].case).toBe("start");
    expect(decoded.at(-1)).toMatchObject({ case: "end", value: { exited: true, status: "exit status 0" } });
    expect(binary.frames.at(-1)!.flags).toBe(2);

    // The library's refusals, in the end-of-stream message: a bad deadline, two messages, a compressed body.
    const endError = async (answer: Promise<{ frames: { flags: number; payload: Uint8Array }[] }>) => {
      const last = (await answer).frames.at(-1)!;
      expect(last.flags).toBe(2);
      return JSON.parse(text(last.payload)).error;
    };
    expect(await endError(start(json(echo), { "connect-timeout-ms": "soon" }))).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("timeout") });
    expect(await endError(start(new Uint8Array([...json(echo), ...json(echo)])))).toMatchObject({ code: "unimplemented", message: expect.stringContaining("extra input message") });
    expect(await endError(start(json(echo), { "connect-content-encoding": "gzip" }))).toMatchObject({ code: "unimplemented", message: expect.stringContaining("gzip") });
    expect(await endError(start(envelope(0, new TextEncoder().encode("{not json"))))).toMatchObject({ code: "invalid_argument" });
  });


});
