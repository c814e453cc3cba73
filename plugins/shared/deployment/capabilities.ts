/**
 * Capabilities a sandbox keeps after `CapDrop: ["ALL"]`: what a root shell needs to install packages, manage files
 * owned by other users and run commands as another user (rocklet sessions with `remote_user` use `su`).
 * Docker's default set minus MKNOD (device nodes), NET_RAW (raw sockets, ARP/ICMP spoofing), SETFCAP/SETPCAP
 * (granting file or process capabilities) and SYS_CHROOT.
 */
export const SANDBOX_CAPABILITIES = [
  "CHOWN", // chown files, e.g. package managers and `cp -a`
  "DAC_OVERRIDE", // root reads and writes files it does not own
  "FOWNER", // chmod/utime on files of other users
  "FSETID", // keep setgid bits when root edits group-owned files
  "SETUID", // su, sudo-less user switching, package managers dropping privileges (apt's _apt)
  "SETGID", // the same for groups (setgroups)
  "KILL", // root signals processes of other users inside the sandbox
  "NET_BIND_SERVICE", // servers on ports below 1024 inside the sandbox
  "AUDIT_WRITE", // PAM (su, login) fails for root when it cannot write its audit record
] as const;

/** Normalises `cap_add` entries ("sys_ptrace", "CAP_SYS_PTRACE" → "SYS_PTRACE") and removes duplicates. */
export function capabilitySet(extra: readonly string[]): string[] {
  const names = [...SANDBOX_CAPABILITIES, ...extra].map((c) => c.toUpperCase().replace(/^CAP_/, ""));
  return [...new Set(names)];
}
