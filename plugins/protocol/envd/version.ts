/**
 * The envd version the rocklet answers as and the control plane reports (`envdVersion`): the SDK enables behaviour by
 * it (≥ 0.5.2 closeStdin, ≥ 0.5.7 octet-stream uploads, ≥ 0.6.2 file metadata, ≥ 0.6.3 watch entries), so it names
 * the highest version whose behaviour the rocklet implements.
 */
export const ENVD_VERSION = "0.5.7";

/** The port envd listens on in an E2B sandbox; the SDK sends it as `E2b-Sandbox-Port`. */
export const ENVD_PORT = 49983;
