/** Egress filters on a stream give exactly what they give on the whole text, however the text is cut. */
import { describe, expect, test } from "bun:test";
import { Converter } from "opencc-js";
import type { EgressStream, TextFilter } from "../../core/kinds/filter.ts";
import opencc from "../../plugins/filters/opencc/plugin.ts";
import regex from "../../plugins/filters/regex/plugin.ts";

function instance(plugin: typeof opencc) {
  return plugin.setup({} as never) as { args: unknown; create(args: unknown): TextFilter };
}

function streamed(stream: EgressStream, pieces: string[]): { text: string; emitted: string[] } {
  const emitted = pieces.map((p) => stream.write(p));
  emitted.push(stream.flush());
  return { text: emitted.join(""), emitted };
}

/** Cuts `text` at random code-point boundaries (seeded, so failures repeat). */
function randomPieces(text: string, seed: number): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  let state = seed;
  for (let i = 0; i < chars.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (state % 4);
    pieces.push(chars.slice(i, i + n).join(""));
    i += n;
  }
  return pieces;
}

const samples = [
  "我用鼠标打开软件",
  "网络上的软件和硬件，我用鼠标打开。内存不够时，请重新启动计算机！",
  "他在信息技术部门工作，负责数据库和服务器的维护 and some English 𠀀 text.",
  "这个程序的源代码存储在硬盘里面，打印机连接到局域网上面的服务器",
];

describe("opencc egress stream", () => {
  const filters = instance(opencc);
  for (const conversion of ["s2twp", "s2t", "s2hk", "t2s"] as const) {
    test(`${conversion}: every chunking equals the one-shot conversion`, () => {
      const oneShot = Converter({ s2twp: { from: "cn", to: "twp" }, s2t: { from: "cn", to: "t" }, s2hk: { from: "cn", to: "hk" }, t2s: { from: "t", to: "cn" } }[conversion] as { from: string; to: string });
      const filter = filters.create({ conversion, max_hold_chars: 32 });
      for (const text of samples) {
        for (let seed = 1; seed <= 25; seed++) expect(streamed(filter.egress(), randomPieces(text, seed)).text).toBe(oneShot(text));
        expect(streamed(filter.egress(), Array.from(text)).text).toBe(oneShot(text)); // one character at a time
      }
    });
  }

  test("a phrase cut across chunks is still converted as a phrase", () => {
    const filter = filters.create({ conversion: "s2twp", max_hold_chars: 32 });
    expect(streamed(filter.egress(), ["我用鼠", "标打", "开软", "件"]).text).toBe("我用滑鼠開啟軟體");
  });

  test("text before punctuation streams without waiting for the end", () => {
    const filter = filters.create({ conversion: "s2twp", max_hold_chars: 32 });
    const { emitted } = streamed(filter.egress(), ["我用鼠标，", "打开软件"]);
    expect(emitted[0]).toBe("我用滑鼠，");
  });

  test("a long run without punctuation is cut after max_hold_chars", () => {
    const filter = filters.create({ conversion: "s2twp", max_hold_chars: 8 });
    const text = "网络上的软件和硬件我用鼠标打开内存不够时请重新启动计算机".repeat(2);
    const { emitted, text: out } = streamed(filter.egress(), Array.from(text));
    expect(out).toBe(Converter({ from: "cn", to: "twp" })(text));
    expect(emitted.slice(0, -1).some((piece) => piece.length > 0)).toBe(true);
  });

  test("ingress converts every record of the history", async () => {
    const filter = filters.create({ conversion: "s2twp", max_hold_chars: 32 });
    expect(await filter.ingress([{ msg: "软件", role: "user" }, { msg: "网络", role: "bot" }])).toEqual([
      { msg: "軟體", role: "user" },
      { msg: "網路", role: "bot" },
    ]);
  });
});

describe("regex filter", () => {
  const filters = instance(regex as unknown as typeof opencc);
  const base = { flags: "", replacement: "[redacted]", ingress: true, egress: true, roles: ["user", "bot", "system"], window: 16 };

  test("redacts matches that span chunk edges", () => {
    const filter = filters.create({ ...base, pattern: "\\d{3}-\\d{4}" });
    const text = "call 555-1234 or 555-9876 now";
    for (let seed = 1; seed <= 20; seed++) {
      expect(streamed(filter.egress(), randomPieces(text, seed)).text).toBe("call [redacted] or [redacted] now");
    }
  });

  test("groups in the replacement, flags, and ingress by role", async () => {
    const filter = filters.create({ ...base, pattern: "(secret)", flags: "i", replacement: "<$1>", roles: ["user"] });
    expect(streamed(filter.egress(), ["a SEC", "RET b"]).text).toBe("a <SECRET> b");
    expect(await filter.ingress([{ msg: "secret", role: "user" }, { msg: "secret", role: "bot" }])).toEqual([
      { msg: "<secret>", role: "user" },
      { msg: "secret", role: "bot" },
    ]);
  });

  test("egress: false passes the stream through", () => {
    const filter = filters.create({ ...base, pattern: "x", egress: false });
    expect(streamed(filter.egress(), ["x", "y"]).emitted).toEqual(["x", "y", ""]);
  });

  test("a pattern that does not compile names the arg", () => {
    expect(() => filters.create({ ...base, pattern: "(" })).toThrow(/not a valid regular expression/);
  });
});
