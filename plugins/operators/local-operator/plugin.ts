import { Type } from "@sinclair/typebox";
import type { Deployment, SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { Operator, OperatorHandle } from "../../../core/kinds/operator.ts";
import { definePlugin } from "../../../core/plugin.ts";

/** An operator that places every sandbox on one deployment plugin of this kernel. */
class DeploymentOperator implements Operator {
  readonly pause?: (sandbox_id: string) => Promise<void>;
  readonly resume?: (sandbox_id: string) => Promise<void>;

  constructor(
    readonly name: string,
    private readonly deployment: Deployment,
  ) {
    // Offered exactly when the deployment can: the admin tells a client which deployment cannot pause.
    if (deployment.pause && deployment.resume) {
      this.pause = (sandbox_id) => deployment.pause!(sandbox_id);
      this.resume = (sandbox_id) => deployment.resume!(sandbox_id);
    }
  }

  async submit(spec: SandboxSpec, signal?: AbortSignal): Promise<OperatorHandle> {
    const handle = await this.deployment.start(spec, signal);
    return { ...handle, rockletToken: handle.rockletToken ?? spec.rockletToken };
  }

  get_status(sandbox_id: string) {
    return this.deployment.state(sandbox_id);
  }

  stop(sandbox_id: string) {
    return this.deployment.stop(sandbox_id);
  }

  // Deployments release everything at stop, so there is nothing left to remove.
  delete(sandbox_id: string) {
    return this.deployment.stop(sandbox_id);
  }

  async restart(spec: SandboxSpec, signal?: AbortSignal): Promise<OperatorHandle> {
    await this.deployment.stop(spec.sandbox_id);
    return this.submit(spec, signal);
  }

  list() {
    return this.deployment.list();
  }

  async locate(sandbox_id: string) {
    return (await this.deployment.locate?.(sandbox_id)) ?? null;
  }
}

export default definePlugin({
  name: "local-operator",
  kind: "operator",
  version: "0.1.0",
  description: "places sandboxes on one deployment plugin of this kernel (local, docker or remote)",
  config: Type.Object({
    deployment: Type.String({ default: "local", minLength: 1, description: "The deployment plugin that runs the sandboxes" }),
  }),
  dependencies: (config) => [config.deployment],
  setup(ctx) {
    const { deployment } = ctx.use(ctx.config.deployment, "deployment");
    const operator: Operator = new DeploymentOperator(ctx.name, deployment);
    return { operator };
  },
});
