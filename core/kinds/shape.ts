/**
 * What the kernel checks of a plugin's instance at setup: the members its kind must provide, member by member. Each
 * kind file states its shape next to its instance type; `satisfies ShapeOf<…>` keeps the two from drifting apart.
 */
export type MemberType = "function" | "string" | "object";
export interface Shape {
  [member: string]: MemberType | Shape;
}

/** The shapes that may describe `T`: only its members, each with the type it has. */
export type ShapeOf<T> = {
  [K in keyof T]?: NonNullable<T[K]> extends (...args: any[]) => unknown
    ? "function"
    : NonNullable<T[K]> extends string
      ? "string"
      : ShapeOf<NonNullable<T[K]>> | "object";
};

export interface MissingMember {
  /** Dotted path of the member, e.g. `deployment.list`. */
  member: string;
  expected: MemberType;
  /** What the instance had there: `undefined`, `a string`, … */
  found: string;
}

const describe = (value: unknown) =>
  value === undefined || value === null ? String(value) : Array.isArray(value) ? "an array" : `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;

/** The first member of `shape` that `value` lacks or has with another type; undefined when it has them all. */
export function missingMember(value: unknown, shape: Shape, prefix = ""): MissingMember | undefined {
  const object = value as Record<string, unknown> | null | undefined;
  for (const [name, expected] of Object.entries(shape)) {
    const member = `${prefix}${name}`;
    const found = typeof object === "object" || typeof object === "function" ? object?.[name] : undefined;
    const type = typeof expected === "string" ? expected : "object";
    const matches = type === "object" ? typeof found === "object" && found !== null : typeof found === type;
    if (!matches) return { member, expected: type, found: describe(found) };
    if (typeof expected === "object") {
      const inner = missingMember(found, expected, `${member}.`);
      if (inner) return inner;
    }
  }
  return undefined;
}
