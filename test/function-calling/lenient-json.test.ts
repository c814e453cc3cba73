import { describe, expect, test } from "bun:test";
import { LenientJsonWriter } from "../../plugins/protocol/function-calling/lenient-json.ts";

function convert(input: string): string {
  const writer = new LenientJsonWriter();
  let out = "";
  for (const ch of input.split("")) out += writer.push(ch);
  return out + writer.end();
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 5 : 7));
  const strings = ["", "北京", 'a "quoted" \\ back', "line\nbreak\ttab", "😀 emoji", "Action: x", "\u0001ctl"];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return [0, -1, 3.25, 1e21, -0.5, 123456789][Math.floor(random() * 6)];
    case 3:
    case 4:
      return strings[Math.floor(random() * strings.length)];
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`${strings[i % strings.length]}k${i}`, randomValue(random, depth + 1)]),
      );
  }
}

describe("LenientJsonWriter on valid JSON", () => {
  test("removes the whitespace between tokens and keeps every token as written", () => {
    expect(convert('{ "a" : [ 1 , 2.50 , -3e+2 ] ,\n\t"b": "x  y \\u4e2d \\/" , "c" : { } , "d": [ ] }')).toBe(
      '{"a":[1,2.50,-3e+2],"b":"x  y \\u4e2d \\/","c":{},"d":[]}',
    );
    expect(convert('{"big": 12345678901234567890}')).toBe('{"big":12345678901234567890}');
  });

  test("random values pretty-printed come back as JSON.stringify writes them", () => {
    const random = mulberry32(7);
    for (let round = 0; round < 500; round++) {
      const value = random() < 0.5 ? { root: randomValue(random, 0) } : [randomValue(random, 0)];
      expect(convert(JSON.stringify(value, null, 2))).toBe(JSON.stringify(value));
    }
  });

  test("is done when the top-level value closes and ignores the rest", () => {
    const writer = new LenientJsonWriter();
    let out = "";
    for (const ch of '{"a": 1} trailing }') out += writer.push(ch);
    expect(out).toBe('{"a":1}');
    expect(writer.done).toBe(true);
    expect(writer.end()).toBe("");
  });
});

describe("LenientJsonWriter repairs what models get wrong", () => {
  const repairs: [string, string, string][] = [
    ["single quotes", "{'a': 'b'}", '{"a":"b"}'],
    ["unquoted keys and words", "{a: 1, b: two}", '{"a":1,"b":"two"}'],
    ["Python literals", '{"a": True, "b": None, "c": False}', '{"a":true,"b":null,"c":false}'],
    ["trailing comma in an object", '{"a": 1,}', '{"a":1}'],
    ["trailing comma in an array", "[1, 2, ]", "[1,2]"],
    ["doubled comma", "[1,,2]", "[1,2]"],
    ["missing comma", '{"a": 1 "b": 2}', '{"a":1,"b":2}'],
    ["missing colon", '{"a" 1}', '{"a":1}'],
    ["missing value", '{"a": }', '{"a":null}'],
    ["key without colon", '{"a"}', '{"a":null}'],
    ["empty value before a comma", '{"a":,"b":1}', '{"a":null,"b":1}'],
    ["closer of the wrong kind", '{"a": [1, 2}', '{"a":[1,2]}'],
    ["array closer for an inner object", '[1, {"a": 2]', '[1,{"a":2}]'],
    ["raw tab in a string", '{"s": "tab\there"}', '{"s":"tab\\there"}'],
    ["unknown escape keeps its backslash", '{"s": "bad \\x escape"}', '{"s":"bad \\\\x escape"}'],
    ["short unicode escape keeps its text", '{"s": "\\u12G"}', '{"s":"\\\\u12G"}'],
    ["escaped single quote", "{'s': 'it\\'s \"quoted\"'}", '{"s":"it\'s \\"quoted\\""}'],
    ["loose numbers", '{"n": +1, "m": .5, "k": 01, "h": 1.}', '{"n":1,"m":0.5,"k":1,"h":1}'],
    ["NaN", '{"x": NaN}', '{"x":null}'],
    ["apostrophe inside a bare word", '{"a": don\'t}', '{"a":"don\'t"}'],
    ["truncated inside arrays", '{"a": {"b": [1, 2', '{"a":{"b":[1,2]}}'],
    ["truncated inside a string", '{"a": "unterminated', '{"a":"unterminated"}'],
    ["truncated after a backslash", '{"a": "ends with \\', '{"a":"ends with \\\\"}'],
    ["truncated after a key", '{"a"', '{"a":null}'],
    ["truncated after a comma", '{"a": 1,', '{"a":1}'],
    ["truncated inside a bare word", '{"a": tru', '{"a":"tru"}'],
    ["truncated inside a number", '{"a": 12', '{"a":12}'],
  ];
  for (const [name, input, expected] of repairs) {
    test(name, () => {
      const out = convert(input);
      expect(out).toBe(expected);
      expect(() => JSON.parse(out)).not.toThrow();
    });
  }
});

describe("LenientJsonWriter always produces one JSON value", () => {
  test("random garbage starting with { or [", () => {
    const alphabet = ["{", "}", "[", "]", ",", ":", '"', "'", " ", "\n", "\\", "u", "a", "1", "-", ".", "e", "True", "None", "😀", "中", "\t", "0"];
    const random = mulberry32(42);
    for (let round = 0; round < 5000; round++) {
      let input = random() < 0.5 ? "{" : "[";
      const length = Math.floor(random() * 30);
      for (let i = 0; i < length; i++) input += alphabet[Math.floor(random() * alphabet.length)];
      const out = convert(input);
      try {
        JSON.parse(out);
      } catch {
        throw new Error(`invalid output ${JSON.stringify(out)} for input ${JSON.stringify(input)}`);
      }
    }
  });

  test("every prefix of valid JSON", () => {
    const random = mulberry32(3);
    for (let round = 0; round < 100; round++) {
      const text = JSON.stringify({ v: randomValue(random, 0), w: [randomValue(random, 1)] }, null, 1);
      for (let at = 1; at <= text.length; at++) expect(() => JSON.parse(convert(text.slice(0, at)))).not.toThrow();
    }
  });
});
