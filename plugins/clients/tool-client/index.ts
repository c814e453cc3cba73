export { ToolServiceError } from "./errors.ts";
export { ToolServiceProxy, type InstanceStatus, type ToolServiceProxyOptions } from "./tool-service-proxy.ts";
