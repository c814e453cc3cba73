import { Type } from "@sinclair/typebox";
import { Converter } from "opencc-js";
import type { TextFilter } from "../../../core/kinds/filter.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { conversionNames, conversions, type ConversionName } from "./conversions.ts";
import { dictionaryChars } from "./dictionary-chars.ts";
import { streamingConverter } from "./stream.ts";

const Args = Type.Object(
  {
    conversion: Type.Union(
      conversionNames.map((name) => Type.Literal(name)),
      { default: "s2twp", description: `OpenCC configuration: ${conversionNames.join(", ")}` },
    ),
    max_hold_chars: Type.Integer({ minimum: 1, default: 32, description: "Longest tail held back while streaming before a forced cut" }),
  },
  { additionalProperties: false },
);

/**
 * OpenCC (opencc-js): converts every record of the history on the way in, and the response stream on the way
 * out, between Simplified, Traditional, Taiwan, Hong Kong and Japanese variants.
 */
export default definePlugin({
  name: "opencc",
  kind: "filter",
  version: "0.1.0",
  description: "Chinese variant conversion (OpenCC: s2twp, t2s, …) on the history and the response stream",
  setup() {
    const converters = new Map<ConversionName, (s: string) => string>();
    const converterFor = (name: ConversionName) => {
      let convert = converters.get(name);
      if (!convert) converters.set(name, (convert = Converter(conversions[name])));
      return convert;
    };
    return {
      args: Args,
      create(args: { conversion: ConversionName; max_hold_chars: number }): TextFilter {
        const convert = converterFor(args.conversion);
        const chars = dictionaryChars();
        return {
          ingress: (records) => records.map((record) => ({ ...record, msg: convert(record.msg) })),
          egress: () => streamingConverter(convert, chars, args.max_hold_chars),
        };
      },
    };
  },
});
