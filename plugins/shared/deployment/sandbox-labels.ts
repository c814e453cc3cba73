/** What every container runtime records on a sandbox's container or service, and what it hands the rocklet. */
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import { ROCKLET_RUNTIME_ENV } from "../../protocol/rocklet-runtime.ts";

/** Where the rocklet binary appears inside every sandbox (bind-mounted read-only). */
export const ROCKLET_MOUNT_PATH = "/rock/rocklet";
export const SANDBOX_ID_LABEL = "rock.sandbox_id";
/** The spec's free-form labels are recorded under this prefix so that they cannot shadow the kernel's own. */
export const USER_LABEL_PREFIX = "rock.label.";

/** The rocklet's runtime settings and the spec's environment; never a ROCKLET_TOKEN, which the rocklet would prefer to nothing. */
export function sandboxEnvironment(spec: SandboxSpec): Record<string, string> {
  return { ...ROCKLET_RUNTIME_ENV, ...Object.fromEntries(Object.entries(spec.env).filter(([name]) => name !== "ROCKLET_TOKEN")) };
}

export function sandboxLabels(spec: SandboxSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(spec.labels)) out[USER_LABEL_PREFIX + key] = value;
  out[SANDBOX_ID_LABEL] = spec.sandbox_id;
  return out;
}
