import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { available } from "../support/env.ts";
import { percentile, startTestRocklet, type TestRocklet, scratchDir } from "./harness.ts";

let rocklet: TestRocklet;
let counter = 0;

beforeAll(() => {
  rocklet = startTestRocklet();
});
afterAll(async () => {
  await rocklet.stop();
});

async function newSession(extra: Record<string, unknown> = {}): Promise<string> {
  const session = `s${++counter}`;
  const created = await rocklet.post("/create_session", { session, sandbox_id: "sb", ...extra });
  expect(created.status).toBe(200);
  return session;
}

function run(session: string, command: string, extra: Record<string, unknown> = {}) {
  return rocklet.post("/run_in_session", { session, command, sandbox_id: "sb", ...extra });
}

describe("bash sessions", () => {
  test("echo returns ROCK's observation shape", async () => {
    const session = await newSession();
    const { status, body } = await run(session, "echo hello");
    expect(status).toBe(200);
    expect(body).toEqual({ session_type: "bash", output: "hello", exit_code: 0, failure_reason: "", expect_string: "" });
  });

  test("cwd, exported env, functions and aliases carry over between commands", async () => {
    const session = await newSession();
    await run(session, "cd /tmp && export GREETING=hi-there && greet() { echo \"greet $1\"; }");
    await run(session, "alias say='echo said'");
    const { body } = await run(session, "pwd; echo $GREETING; greet you; say it");
    expect(body.output).toBe("/tmp\nhi-there\ngreet you\nsaid it");
  });

  test("exit codes are exact", async () => {
    const session = await newSession();
    expect((await run(session, "(exit 3)", { check: "silent" })).body.exit_code).toBe(3);
    expect((await run(session, "false", { check: "silent" })).body.exit_code).toBe(1);
    expect((await run(session, "bash -c 'exit 42'", { check: "silent" })).body.exit_code).toBe(42);
    expect((await run(session, "true")).body.exit_code).toBe(0);
  });

  test("check modes: raise (default), silent, ignore", async () => {
    const session = await newSession();
    const raised = await run(session, "false");
    expect(raised.status).toBe(511);
    expect(raised.body.rockletexception.class_path).toBe("rock.rocklet.exceptions.NonZeroExitCodeError");
    expect(raised.body.rockletexception.message).toBe(
      "Command 'false' failed with exit code 1. Here is the output:\n''",
    );
    expect(raised.body.rockletexception.traceback).toBe("");
    const prefixed = await run(session, "echo oops; exit_code_is() { return 2; }; exit_code_is", { error_msg: "step 3" });
    expect(prefixed.body.rockletexception.message).toStartWith("step 3: Command ");
    expect(prefixed.body.rockletexception.message).toContain("exit code 2");
    expect((await run(session, "false", { check: "silent" })).body.exit_code).toBe(1);
    const ignored = await run(session, "false", { check: "ignore" });
    expect(ignored.status).toBe(200);
    expect(ignored.body.exit_code).toBeNull();
  });

  test("a syntax error is reported as such and nothing runs", async () => {
    const session = await newSession();
    const { status, body } = await run(session, "echo 'unterminated; touch /tmp/should-not-exist-rocklet");
    expect(status).toBe(511);
    expect(body.rockletexception.class_path).toBe("rock.rocklet.exceptions.BashIncorrectSyntaxError");
    expect(body.rockletexception.message).toContain("Syntax error");
    expect(body.rockletexception.extra_info.bash_stderr).toContain("unexpected EOF");
    for (const broken of ["if true; then echo", "echo a\n}\necho b", "cat <<EOF\nno end"]) {
      expect((await run(session, broken)).body.rockletexception.class_path).toEndWith("BashIncorrectSyntaxError");
    }
    expect((await run(session, "echo still fine")).body.output).toBe("still fine");
  });

  test("multi-line commands, heredocs, continuations and output without trailing newline", async () => {
    const session = await newSession();
    const multi = await run(session, "x=1\nif [ $x = 1 ]; then\n  echo one\nfi\ncat <<'EOF'\nline $x\nEOF\necho a \\\n  b");
    expect(multi.body.output).toBe("one\nline $x\na b");
    expect((await run(session, "printf 'no newline'")).body.output).toBe("no newline");
    expect((await run(session, "echo trailing \\")).body.output).toBe("trailing");
    expect((await run(session, "# just a comment\n")).body).toMatchObject({ output: "", exit_code: 0 });
    expect((await run(session, "")).body).toMatchObject({ output: "", exit_code: 0 });
    expect((await run(session, "echo out; echo err >&2")).body.output).toBe("out\nerr");
  });

  test("a command cannot fake the end marker and set -x does not leak it", async () => {
    const session = await newSession();
    const { body } = await run(session, "printf '\\nRKLT0000000000000000 0\\n'; echo after");
    expect(body.output).toBe("RKLT0000000000000000 0\nafter");
    await run(session, "set -x");
    const traced = await run(session, "echo traced");
    expect(traced.body.output).toBe("+ echo traced\ntraced");
    await run(session, "set +x");
  });

  test("commands read /dev/null, so input-hungry programs do not hang", async () => {
    const session = await newSession();
    const { body } = await run(session, "cat; read -r line; echo status=$?", { timeout: 5 });
    expect(body).toMatchObject({ output: "status=1", exit_code: 0 });
  });

  test("invalid UTF-8 output is decoded leniently", async () => {
    const session = await newSession();
    expect((await run(session, "printf 'a\\xffb'")).body.output).toBe("a\\xffb");
  });

  test("a timeout returns partial output as a failure and the session stays usable", async () => {
    const session = await newSession();
    await run(session, "cd /tmp");
    const started = performance.now();
    const { status, body } = await run(session, "echo before; for i in 1 2 3 4 5 6 7 8 9; do sleep 1; done; echo never", {
      timeout: 0.5,
    });
    expect(performance.now() - started).toBeLessThan(4000);
    expect(status).toBe(200);
    expect(body.exit_code).toBe(-1);
    expect(body.output).toBe("before");
    expect(body.failure_reason).toContain("timeout after 0.5 seconds");
    const after = await run(session, "pwd; echo alive");
    expect(after.body).toMatchObject({ output: "/tmp\nalive", exit_code: 0 });
  });

  test("a command that survives SIGINT is killed, earlier background jobs are left alone", async () => {
    const session = await newSession();
    await run(session, "sleep 60 & BG=$!");
    const catches = "python3 -c 'import time\ntry:\n  time.sleep(30)\nexcept KeyboardInterrupt:\n  time.sleep(30)'";
    const first = await run(session, catches, { timeout: 0.3 });
    expect(first.body.exit_code).toBe(-1);
    expect((await run(session, "echo recovered")).body.output).toBe("recovered");
    const second = await run(session, "bash -c \"trap '' INT; sleep 30\"", { timeout: 0.3 });
    expect(second.body.exit_code).toBe(-1);
    expect(second.body.failure_reason).toContain("session is usable");
    const alive = await run(session, "kill -0 $BG && echo bg-alive; kill $BG", { check: "silent" });
    expect(alive.body.output).toBe("bg-alive");
  }, 15_000);

  test("a timed-out command does not keep the request open beyond its timeout", async () => {
    const session = await newSession();
    const started = performance.now();
    await run(session, "sleep 20", { timeout: 1 });
    expect(performance.now() - started).toBeLessThan(3000);
  });

  test("concurrent sessions run in parallel, one session rejects a second command while busy", async () => {
    const [a, b] = await Promise.all([newSession(), newSession()]);
    const started = performance.now();
    const [ra, rb] = await Promise.all([run(a, "sleep 0.5; echo A"), run(b, "sleep 0.5; echo B")]);
    expect(ra.body.output).toBe("A");
    expect(rb.body.output).toBe("B");
    expect(performance.now() - started).toBeLessThan(950);
    const slow = run(a, "sleep 0.5; echo first");
    await Bun.sleep(100);
    const busy = await run(a, "echo second");
    expect(busy.status).toBe(511);
    expect(busy.body.rockletexception.class_path).toBe("rock.rocklet.exceptions.SessionBusyError");
    expect((await slow).body.output).toBe("first");
  });

  test("session names: duplicates and unknown names are errors", async () => {
    const session = await newSession();
    const duplicate = await rocklet.post("/create_session", { session });
    expect(duplicate.status).toBe(511);
    expect(duplicate.body.rockletexception).toMatchObject({
      class_path: "rock.rocklet.exceptions.SessionExistsError",
      message: `session ${session} already exists`,
    });
    const unknown = await run("nope", "echo");
    expect(unknown.body.rockletexception.message).toBe("session 'nope' does not exist");
    expect((await rocklet.post("/close_session", { session })).body).toEqual({ session_type: "bash" });
    expect((await run(session, "echo")).status).toBe(511);
    expect((await rocklet.post("/close_session", { session })).status).toBe(511);
  });

  test("exit in a session closes it and frees the name", async () => {
    const session = await newSession();
    const { body } = await run(session, "exit 7", { check: "silent" });
    expect(body.exit_code).toBe(7);
    expect(body.failure_reason).toContain("exited with status 7");
    expect((await run(session, "echo")).body.rockletexception.class_path).toEndWith("SessionDoesNotExistError");
    expect((await rocklet.post("/create_session", { session })).status).toBe(200);
  });

  test("create_session: env, env_enable, startup_source", async () => {
    const dir = scratchDir("rocklet-startup-");
    const rc = join(dir, "rc.sh");
    writeFileSync(rc, "echo sourcing; export FROM_RC=yes; rc_fn() { echo rc-fn; }\n");
    process.env.ROCKLET_TEST_INHERITED = "inherited";
    const session = `s${++counter}`;
    const created = await rocklet.post("/create_session", {
      session,
      env: { MY_VAR: "mine" },
      startup_source: [rc],
    });
    expect(created.body).toEqual({ output: "sourcing", session_type: "bash" });
    const { body } = await run(session, 'echo "$MY_VAR $FROM_RC ${ROCKLET_TEST_INHERITED:-unset}"; rc_fn');
    expect(body.output).toBe("mine yes unset\nrc-fn");
    const inheriting = await newSession({ env_enable: true });
    expect((await run(inheriting, "echo $ROCKLET_TEST_INHERITED")).body.output).toBe("inherited");
    const missing = await rocklet.post("/create_session", { session: "bad-rc", startup_source: [join(dir, "nope")] });
    expect(missing.status).toBe(511);
    expect(missing.body.rockletexception.message).toContain("nope");
    expect((await rocklet.post("/create_session", { session: "bad-rc" })).status).toBe(200);
  });

  test("a session that cannot start is an error", async () => {
    const dir = scratchDir("rocklet-startup-");
    writeFileSync(join(dir, "slow.sh"), "sleep 5\n");
    writeFileSync(join(dir, "exits.sh"), "echo leaving; exit 3\n");
    const slow = await rocklet.post("/create_session", {
      session: "never-ready",
      startup_source: [join(dir, "slow.sh")],
      startup_timeout: 0.2,
    });
    expect(slow.status).toBe(511);
    expect(slow.body.rockletexception.message).toContain("did not start within 0.2 s");
    const exits = await rocklet.post("/create_session", { session: "exits", startup_source: [join(dir, "exits.sh")] });
    expect(exits.status).toBe(511);
    expect(exits.body.rockletexception.message).toContain("exited during startup (status 3)");
    expect(exits.body.rockletexception.extra_info.output).toContain("leaving");
    expect((await rocklet.post("/create_session", { session: "never-ready" })).status).toBe(200);
  });

  test("interactive programs: expect prompts, send lines, quit", async () => {
    const session = await newSession();
    const start = await run(session, "python3 -i -q", { is_interactive_command: true, expect: [">>> "], timeout: 10 });
    expect(start.body).toMatchObject({ exit_code: 0, expect_string: ">>> " });
    const reply = await run(session, "print(6 * 7)", { is_interactive_command: true, expect: [">>> "], timeout: 10 });
    expect(reply.body).toMatchObject({ output: "42", expect_string: ">>> " });
    const blocked = await run(session, "echo normal");
    expect(blocked.body.rockletexception.class_path).toEndWith("SessionBusyError");
    const quit = await run(session, "exit()", { is_interactive_quit: true, timeout: 10 });
    expect(quit.body.exit_code).toBe(0);
    expect((await run(session, "echo back")).body.output).toBe("back");
  });

  test("a normal command with expect strings can prompt for input", async () => {
    const session = await newSession();
    const prompt = await run(session, "printf 'Password: '; read -r secret; echo \"got $secret\"", {
      expect: ["Password: "],
      timeout: 5,
    });
    expect(prompt.body).toMatchObject({ output: "", exit_code: 0, expect_string: "Password: " });
    const answer = await run(session, "hunter2", { is_interactive_command: true, timeout: 5 });
    expect(answer.body).toMatchObject({ output: "got hunter2", exit_code: 0 });
    expect((await run(session, "echo normal again")).body.output).toBe("normal again");
  });

  test("an interactive wait that times out keeps the program running", async () => {
    const session = await newSession();
    await run(session, "cat", { is_interactive_command: true, expect: ["never"], timeout: 0.2 });
    const echoed = await run(session, "line one", { is_interactive_command: true, expect: ["one"], timeout: 5 });
    expect(echoed.body).toMatchObject({ output: "line ", expect_string: "one" });
    const waiting = await run(session, "more", { is_interactive_command: true, expect: ["absent"], timeout: 0.2 });
    expect(waiting.body.exit_code).toBe(-1);
    expect(waiting.body.output).toBe("more");
    expect(waiting.body.failure_reason).toContain("keeps running");
    // Without a terminal, Ctrl-D is just a byte: cat keeps running and the quit times out.
    const quit = await run(session, "\u0004", { is_interactive_quit: true, timeout: 0.2 });
    expect(quit.body.exit_code).toBe(-1);
  });

  // Switching users needs root; test/env/up (and so CI) runs as root, where this must not be skipped.
  test.skipIf(!available("root (to switch users)", process.getuid?.() === 0 ? "root" : undefined))("remote_user runs the shell as that user", async () => {
    const session = await newSession({ remote_user: "nobody" });
    const { body } = await run(session, "id -un; echo $USER", { check: "silent" });
    expect(body.output).toBe("nobody\nnobody");
    const unknown = await rocklet.post("/create_session", { session: "ghost", remote_user: "no-such-user-rocklet" });
    expect(unknown.body.rockletexception.message).toContain("does not exist");
  });

  test("validation errors are 422 naming the field", async () => {
    const session = await newSession();
    const missing = await rocklet.post("/run_in_session", { session });
    expect(missing.status).toBe(422);
    expect(missing.body.detail[0].loc).toEqual(["body", "command"]);
    expect(missing.body.detail[0].msg).toContain("command");
    const badCheck = await run(session, "echo", { check: "sometimes" });
    expect(badCheck.status).toBe(422);
    expect(badCheck.body.detail[0].loc).toEqual(["body", "check"]);
    const badTimeout = await run(session, "echo", { timeout: "soon" });
    expect(badTimeout.body.detail[0].loc).toEqual(["body", "timeout"]);
    const notJson = await fetch(`${rocklet.url}/run_in_session`, {
      method: "POST",
      headers: { authorization: `Bearer ${rocklet.token}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(notJson.status).toBe(422);
  });

  test("run_in_session round trip latency (echo hi)", async () => {
    const session = await newSession();
    const samples: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      const { body } = await run(session, "echo hi");
      samples.push(performance.now() - started);
      expect(body.output).toBe("hi");
    }
    const p50 = percentile(samples, 0.5);
    console.log(`run_in_session echo hi: p50 ${p50.toFixed(3)} ms, p99 ${percentile(samples, 0.99).toFixed(3)} ms`);
    // Generous bound: only catches a regression to sleep-based polling, not machine noise.
    expect(p50).toBeLessThan(50);
  });
});
