import { describe, expect, test } from "bun:test";
import { parseReply } from "../../plugins/protocol/function-calling/parse.ts";
import { type ReplyEvent, ReplyStreamParser } from "../../plugins/protocol/function-calling/stream-parse.ts";
import { DEFAULT_TOOL_NAMES, REPLY_CASES, type ReplyCase } from "./cases.ts";

interface Collected {
  content: string;
  calls: { id: string; name: string; arguments: string }[];
  finishReason: string;
}

/** Feeds the chunks, checks the event-stream invariants and folds the events the way an OpenAI client does. */
function run(chunks: string[], options: { toolNames: string[]; parallelToolCalls?: boolean }): Collected {
  const parser = new ReplyStreamParser(options);
  const events: ReplyEvent[] = [];
  for (const chunk of chunks) events.push(...parser.feed(chunk));
  const end = parser.finish();
  events.push(...end.events);

  const collected: Collected = { content: "", calls: [], finishReason: end.finishReason };
  for (const event of events) {
    const piece = event.type === "text" ? event.text : (event.arguments ?? "");
    expect(isHighSurrogate(piece.charCodeAt(piece.length - 1))).toBe(false);
    expect(isLowSurrogate(piece.charCodeAt(0))).toBe(false);
    if (event.type === "text") {
      expect(collected.calls).toHaveLength(0); // content only before the first call
      collected.content += event.text;
      continue;
    }
    if (event.index === collected.calls.length) {
      expect(event.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
      expect(event.name).toBeString();
      collected.calls.push({ id: event.id as string, name: event.name as string, arguments: event.arguments ?? "" });
    } else {
      expect(event.index).toBe(collected.calls.length - 1); // calls never interleave
      expect(event.id).toBeUndefined();
      expect(event.name).toBeUndefined();
      collected.calls[event.index].arguments += event.arguments ?? "";
    }
  }
  return collected;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function optionsOf(c: ReplyCase) {
  return { toolNames: c.toolNames ?? DEFAULT_TOOL_NAMES, parallelToolCalls: c.parallel };
}

function expectSameAsParse(c: ReplyCase, chunks: string[]): void {
  const streamed = run(chunks, optionsOf(c));
  const parsed = parseReply(c.text, optionsOf(c));
  const label = JSON.stringify(chunks);
  expect({ label, content: streamed.content }).toEqual({ label, content: parsed.content });
  expect({ label, calls: streamed.calls.map((call) => [call.name, call.arguments]) }).toEqual({
    label,
    calls: parsed.tool_calls.map((call) => [call.function.name, call.function.arguments]),
  });
  expect(streamed.finishReason).toBe(parsed.finish_reason);
}

/** Small seeded PRNG so that random chunkings are reproducible. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomChunks(text: string, random: () => number): string[] {
  const chunks: string[] = [];
  let at = 0;
  while (at < text.length) {
    const size = 1 + Math.floor(random() * Math.min(12, text.length));
    chunks.push(text.slice(at, at + size));
    at += size;
  }
  // Empty deltas happen (keep-alive frames); they must be harmless.
  if (random() < 0.5) chunks.splice(Math.floor(random() * (chunks.length + 1)), 0, "");
  return chunks;
}

describe("ReplyStreamParser gives parseReply's result however the text is chunked", () => {
  for (const c of REPLY_CASES) {
    test(c.name, () => {
      expect(run([c.text], optionsOf(c)).content).toBe(c.content);
      expectSameAsParse(c, [c.text]);
      // Every single split point, on UTF-16 code units (this splits surrogate pairs too).
      for (let at = 0; at <= c.text.length; at++) expectSameAsParse(c, [c.text.slice(0, at), c.text.slice(at)]);
      // Every boundary at once.
      expectSameAsParse(c, c.text.split(""));
      const random = mulberry32(c.text.length + 1);
      for (let round = 0; round < 100; round++) expectSameAsParse(c, randomChunks(c.text, random));
    });
  }
});

describe("ReplyStreamParser streams early and holds back little", () => {
  const options = { toolNames: DEFAULT_TOOL_NAMES };

  function feedAll(parser: ReplyStreamParser, chunks: string[]): ReplyEvent[] {
    return chunks.flatMap((chunk) => parser.feed(chunk));
  }

  test("plain text goes out at once", () => {
    expect(feedAll(new ReplyStreamParser(options), ["Hello wor"])).toEqual([{ type: "text", text: "Hello wor" }]);
  });

  test("holds back only a possible marker start and the whitespace before it", () => {
    expect(feedAll(new ReplyStreamParser(options), ["Hello A"])).toEqual([{ type: "text", text: "Hello" }]);
    expect(feedAll(new ReplyStreamParser(options), ["好的，我来查一下。\nAct"])).toEqual([{ type: "text", text: "好的，我来查一下。" }]);
    expect(feedAll(new ReplyStreamParser(options), ["Check the Obs"])).toEqual([{ type: "text", text: "Check the" }]);
  });

  test("held-back text is released when it turns out not to be a marker", () => {
    const parser = new ReplyStreamParser(options);
    expect(feedAll(parser, ["Hello A"])).toEqual([{ type: "text", text: "Hello" }]);
    expect(parser.feed("ctually, no.")).toEqual([{ type: "text", text: " Actually, no." }]);
    expect(parser.finish()).toEqual({ events: [], finishReason: "stop" });
  });

  test("an Action line for an unknown tool is released as soon as the name cannot match", () => {
    const parser = new ReplyStreamParser(options);
    expect(parser.feed("Action: get")).toEqual([{ type: "text", text: "Action: get" }]);
  });

  test("a call starts once its Action Input line is seen, then the arguments stream", () => {
    const parser = new ReplyStreamParser(options);
    expect(parser.feed("好的\nAction: web_search\n")).toEqual([{ type: "text", text: "好的" }]);
    const [start] = parser.feed("Action Input:");
    expect(start).toMatchObject({ type: "tool_call", index: 0, name: "web_search", arguments: "" });
    expect(parser.feed(' {"query": "北')).toEqual([{ type: "tool_call", index: 0, arguments: '{"query":"北' }]);
    expect(parser.feed('京"}')).toEqual([{ type: "tool_call", index: 0, arguments: '京"}' }]);
    expect(parser.finish()).toEqual({ events: [], finishReason: "tool_calls" });
  });

  test("Observation: settles an unterminated call without waiting for finish()", () => {
    const parser = new ReplyStreamParser(options);
    const events = feedAll(parser, ['Action: web_search\nAction Input: {"query": "x"\n', "Observation:"]);
    expect(events.map((event) => (event.type === "tool_call" ? event.arguments : "")).join("")).toBe('{"query":"x"}');
    expect(parser.feed("Action: amap_weather\nAction Input: {}")).toEqual([]);
    expect(parser.finish().finishReason).toBe("tool_calls");
  });

  test("a split surrogate pair is held until its second half arrives", () => {
    const parser = new ReplyStreamParser(options);
    expect(parser.feed("a\ud83d")).toEqual([{ type: "text", text: "a" }]);
    expect(parser.feed("\ude00")).toEqual([{ type: "text", text: "😀" }]);
  });

  test("with no tools offered everything is content, immediately", () => {
    const parser = new ReplyStreamParser({ toolNames: [] });
    expect(parser.feed("Action: web_search\nAction Input: {}")).toEqual([
      { type: "text", text: "Action: web_search\nAction Input: {}" },
    ]);
    expect(parser.finish()).toEqual({ events: [], finishReason: "stop" });
  });

  test("finish() is idempotent and feed() after it throws", () => {
    const parser = new ReplyStreamParser(options);
    parser.feed("hi ");
    expect(parser.finish()).toEqual({ events: [{ type: "text", text: " " }], finishReason: "stop" });
    expect(parser.finish()).toEqual({ events: [], finishReason: "stop" });
    expect(() => parser.feed("more")).toThrow();
  });
});

describe("ReplyStreamParser agrees with parseReply on generated replies", () => {
  const fragments = [
    "Action: ",
    "Action:",
    "Action Input: ",
    "Action Input:",
    "web_search",
    "amap_weather",
    "web",
    "Observation:",
    "Obs",
    "Act",
    "\n",
    "\r\n",
    " ",
    "\t",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    ",",
    ":",
    "\\",
    '{"query": "北京"}',
    "True",
    "42",
    "好的",
    "😀",
    "text",
  ];

  test("random fragment soups, random chunkings", () => {
    const random = mulberry32(2024);
    for (let round = 0; round < 3000; round++) {
      let text = "";
      const length = 1 + Math.floor(random() * 25);
      for (let i = 0; i < length; i++) text += fragments[Math.floor(random() * fragments.length)];
      const c: ReplyCase = {
        name: "generated",
        text,
        toolNames: ["web_search", "amap_weather", "web"],
        parallel: random() < 0.8,
        content: "",
        calls: [],
      };
      expectSameAsParse(c, randomChunks(text, random));
      expectSameAsParse(c, text.split(""));
    }
  });
});
