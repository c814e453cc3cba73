import { describe, expect, test } from "bun:test";
import { isTriviallyValid } from "../../plugins/programs/rocklet/bash-syntax.ts";
import { pythonRepr } from "../../plugins/protocol/python-repr.ts";
import { findSentinel, newSentinel } from "../../plugins/programs/rocklet/sentinel.ts";
import { decodeUtf8, Utf8Decoder } from "../../plugins/programs/rocklet/utf8-decoder.ts";

describe("UTF-8 decoding", () => {
  test("sequences split across chunks are reassembled", () => {
    const bytes = new TextEncoder().encode("héllo €😀");
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new Utf8Decoder();
      const text = decoder.decode(bytes.subarray(0, cut)) + decoder.decode(bytes.subarray(cut), true);
      expect(text).toBe("héllo €😀");
    }
  });

  test("invalid bytes follow Python's error handlers", () => {
    const bytes = Uint8Array.from([0x61, 0xff, 0xe4, 0xbd, 0x62, 0xed, 0xa0, 0x80]);
    expect(decodeUtf8(bytes)).toBe("a\\xff\\xe4\\xbdb\\xed\\xa0\\x80");
    expect(decodeUtf8(bytes, "replace")).toBe("a\ufffd\ufffdb\ufffd\ufffd\ufffd");
    expect(decodeUtf8(bytes, "ignore")).toBe("ab");
    expect(decodeUtf8(Uint8Array.from([0xff]), "surrogateescape")).toBe("\udcff");
    expect(() => decodeUtf8(bytes, "strict")).toThrow("can't decode byte 0xff in position 1");
  });

  test("a truncated sequence at the very end is escaped", () => {
    const decoder = new Utf8Decoder();
    expect(decoder.decode(Uint8Array.from([0x61, 0xe2, 0x82]))).toBe("a");
    expect(decoder.decode(new Uint8Array(0), true)).toBe("\\xe2\\x82");
  });
});

describe("python repr", () => {
  test("matches Python's quoting and escapes", () => {
    expect(pythonRepr("false")).toBe("'false'");
    expect(pythonRepr("it's")).toBe('"it\'s"');
    expect(pythonRepr(`it's "x"`)).toBe(`'it\\'s "x"'`);
    expect(pythonRepr("a\nb\t\\\x01")).toBe("'a\\nb\\t\\\\\\x01'");
    expect(pythonRepr("")).toBe("''");
  });
});

describe("end markers", () => {
  test("only a complete marker line counts", () => {
    const sentinel = newSentinel();
    expect(findSentinel(`out\n${sentinel.marker} 0`, sentinel)).toBeNull();
    expect(findSentinel(`out\n${sentinel.marker} 12\n`, sentinel)).toEqual({ start: 3, end: 4 + sentinel.marker.length + 4, exitCode: 12 });
    expect(sentinel.printStatement).not.toContain(sentinel.marker);
  });
});

describe("syntax fast path", () => {
  test("plain commands skip bash -n, anything with shell syntax does not", () => {
    expect(isTriviallyValid("echo hi")).toBe(true);
    expect(isTriviallyValid("ls -la /tmp\npwd")).toBe(true);
    for (const command of ["echo 'x'", "a | b", "echo $X", "if", "fi", "cat <<EOF", "done", "{", "echo (", "# c"]) {
      expect(isTriviallyValid(command)).toBe(false);
    }
  });
});
