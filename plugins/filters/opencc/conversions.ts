/** OpenCC's configuration names (as in `s2twp.json`) and the opencc-js locales each one converts between. */
export const conversions = {
  s2t: { from: "cn", to: "t" },
  t2s: { from: "t", to: "cn" },
  s2tw: { from: "cn", to: "tw" },
  tw2s: { from: "tw", to: "cn" },
  s2twp: { from: "cn", to: "twp" },
  tw2sp: { from: "twp", to: "cn" },
  s2hk: { from: "cn", to: "hk" },
  hk2s: { from: "hk", to: "cn" },
  t2tw: { from: "t", to: "tw" },
  tw2t: { from: "tw", to: "t" },
  t2hk: { from: "t", to: "hk" },
  hk2t: { from: "hk", to: "t" },
  t2jp: { from: "t", to: "jp" },
  jp2t: { from: "jp", to: "t" },
} as const;

export type ConversionName = keyof typeof conversions;
export const conversionNames = Object.keys(conversions) as ConversionName[];
