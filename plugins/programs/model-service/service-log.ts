/** The service's own diagnostics: one line per event on stderr (the daemon's stderr goes to model-service.out). */
export type ServiceLog = (message: string, fields?: Record<string, unknown>) => void;

export const stderrLog: ServiceLog = (message, fields) => {
  const extra = fields ? ` ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}` : "";
  process.stderr.write(`${new Date().toISOString()} [model-service] ${message}${extra}\n`);
};

export const silentLog: ServiceLog = () => {};
