import { isAbsolute, resolve } from "node:path";

/** Where the deployments find the rocklet: a compiled binary, or its TypeScript entry run by Bun. */
export const ROCKLET_BINARY_DEFAULT = "dist/rocklet";
export const ROCKLET_SOURCE = "plugins/programs/rocklet/main.ts";

/** The npm packages the rocklet imports (envd's Connect RPC): a rocklet run from source must see them too. */
export const ROCKLET_PACKAGES = ["@connectrpc/connect", "@bufbuild/protobuf"];

/** What to tell someone whose rocklet binary is missing. */
export const ROCKLET_BUILD_HINT = "build it with: npx bun plugins/programs/rocklet/build.ts";

/** Config paths are relative to the project root. */
export function fromRoot(root: string, path: string): string {
  return isAbsolute(path) ? path : resolve(root, path);
}
