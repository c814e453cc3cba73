import { PermissionDenied } from "../errors.ts";

export interface ScopedEnv {
  /** The variable's value, or undefined when unset. Throws PermissionDenied when undeclared. */
  get(name: string): string | undefined;
  /** Only the declared variables that are set. */
  all(): Record<string, string>;
}

export function scopedEnv(plugin: string, declared: readonly string[], source: Record<string, string | undefined> = process.env): ScopedEnv {
  const allowed = new Set(declared);
  return {
    get(name) {
      if (!allowed.has(name)) throw new PermissionDenied(plugin, `env:${name}`, `declare "${name}" in permissions.env`);
      return source[name];
    },
    all() {
      const out: Record<string, string> = {};
      for (const name of allowed) if (source[name] !== undefined) out[name] = source[name]!;
      return out;
    },
  };
}
