import { RulesetError } from "./ruleset.js";

/**
 * What an admin hands `firewall import`: the iptables-save form slamlab reads
 * already, the `iptables -S` listing of the filter table, or a shell script
 * of iptables/ipset commands (which only ever runs in a throwaway lab
 * container, see engines/docker/run-firewall-script.ts).
 */
export type FirewallInputKind = "iptables-save" | "iptables-list" | "script";

export function classifyFirewallInput(text: string): FirewallInputKind {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (lines.some((line) => /^\*(filter|nat|mangle|raw|security)$/.test(line))) return "iptables-save";
  if (lines.length > 0 && lines.every((line) => /^-[PNA] \S/.test(line))) return "iptables-list";
  return "script";
}

/** `iptables -S` (the filter table as commands) in the iptables-restore form: -P lines become chain declarations. */
export function listingToRestore(text: string): string {
  const declarations: string[] = [];
  const rules: string[] = [];
  const policies = new Map([
    ["INPUT", "ACCEPT"],
    ["FORWARD", "ACCEPT"],
    ["OUTPUT", "ACCEPT"],
  ]);
  for (const line of text.split(/\r?\n/).map((candidate) => candidate.trim())) {
    const policy = /^-P (\S+) (\S+)$/.exec(line);
    if (policy) policies.set(policy[1]!, policy[2]!);
    else if (/^-N \S+$/.test(line)) declarations.push(`:${line.slice(3)} - [0:0]`);
    else if (line.startsWith("-A ")) rules.push(line);
  }
  return ["*filter", ...[...policies].map(([chain, policy]) => `:${chain} ${policy} [0:0]`), ...declarations, ...rules, "COMMIT", ""].join("\n");
}

/** One command of the script that failed, as the lab container's shell reported it. */
export interface FailedCommand {
  readonly line: number;
  readonly status: number;
  readonly command: string;
}

/** The ERR trap's marker lines in the script's stderr. */
export const FAILURE_MARKER = "slamlab-failed";

export function failedCommands(stderr: string): FailedCommand[] {
  const failures: FailedCommand[] = [];
  for (const line of stderr.split("\n")) {
    const match = new RegExp(`^${FAILURE_MARKER}:(\\d+):(\\d+):(.*)$`).exec(line);
    if (match) failures.push({ line: Number(match[1]), status: Number(match[2]), command: match[3]!.trim() });
  }
  return failures;
}

/**
 * Commands a firewall script may fail at in a lab container without changing
 * its rules: loading modules, kernel parameters, service managers, installing
 * packages (there is no network), saving the rules for the next boot.
 */
const HARMLESS =
  /^(sudo\s+)?(\/\S*\/)?(modprobe|insmod|rmmod|lsmod|depmod|sysctl|service|systemctl|invoke-rc\.d|update-rc\.d|netfilter-persistent|iptables-save|ip6tables-save|ipset save|logger|echo|apt-get|apt|aptitude|yum|dnf|debconf-set-selections)\b|^\/etc\/init\.d\//;

export function isHarmlessFailure(failure: FailedCommand): boolean {
  return HARMLESS.test(failure.command);
}

/**
 * Whether a script that exited with `status` did so only because its last
 * command failed harmlessly (scripts often end with `iptables-save >
 * /etc/iptables/rules.v4`, a file the lab container lacks): sourced, a script
 * returns its last command's status, and the ERR trap then records that
 * command and, right after it, the line that sourced the script. An `exit N`
 * in the script ends the shell before the source line's record.
 */
export function endedOnHarmlessFailure(failures: readonly FailedCommand[], sourceCommand: string, status: number): boolean {
  const last = failures.length - 1;
  if (status === 0 || last < 1 || failures[last]!.command !== sourceCommand || failures[last]!.status !== status) return false;
  const final = failures[last - 1]!;
  return final.status === status && isHarmlessFailure(final);
}

/** The script's failures that change what it loads, as one error naming the file and each line; null when there are none. */
export function scriptFailureError(path: string, failures: readonly FailedCommand[], stderr: string): RulesetError | null {
  const fatal = failures.filter((failure) => !isHarmlessFailure(failure));
  if (fatal.length === 0) return null;
  const messages = stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith(FAILURE_MARKER))
    .slice(0, 5)
    .map((line) => `    ${line.trim()}`);
  const listed = fatal.map((failure) => `  ${path}: line ${failure.line}: \`${failure.command}\` failed (exit ${failure.status})`);
  return new RulesetError(
    "SCRIPT_FAILED",
    `${path}: ${fatal.length} command${fatal.length === 1 ? "" : "s"} of the script failed in the lab container, so its rules are not what it means to load:\n${listed.join("\n")}${messages.length ? `\n  the tools said:\n${messages.join("\n")}` : ""}\nfix the script (it ran with no network and none of this host's files but itself), or import the iptables-save output of the host it runs on`,
  );
}

/** The rules an ip6tables-save listing holds (-A lines). */
export function ipv6RuleCount(ipv6SaveText: string): number {
  return ipv6SaveText.split("\n").filter((line) => line.startsWith("-A ")).length;
}

/**
 * What an imported script does for IPv6, said when it matters: its
 * ip6tables rules are kept beside the IPv4 ones (slamlab judges IPv4 only so
 * far, and a rule dropped in silence is a hole nobody sees); a script that
 * limits SIP over IPv4 and leaves IPv6's INPUT open says so, since a
 * dual-stack PBX is then unprotected on its IPv6 address.
 */
export function ipv6ImportNote(input: string, ipv4SaveText: string, ipv6SaveText: string, ipv6Output: string | null): string | null {
  const rules = ipv6RuleCount(ipv6SaveText);
  if (rules > 0) {
    return `${input}: the script also loads ${rules} ip6tables rule${rules === 1 ? "" : "s"} (IPv6), kept in ${ipv6Output} as ip6tables-save wrote them; give that file as a scenario's firewall.ruleset6 to judge them beside the IPv4 rules`;
  }
  const inputAccepts = !/^:INPUT (DROP|REJECT) /m.test(ipv6SaveText);
  const limitsSip = /^-A .*(--dports? (\S*,)?506[01]\b|--string "?(REGISTER|INVITE))/m.test(ipv4SaveText);
  if (limitsSip && inputAccepts) {
    return `${input}: the script limits SIP over IPv4 but loads no ip6tables rule, and IPv6's INPUT policy is ACCEPT: if the PBX has an IPv6 address, nothing limits REGISTERs to it there; add the same rules with ip6tables (recent and hashlimit count per /128 unless masked: --mask ffff:ffff:ffff:ffff:: or --hashlimit-srcmask 64 counts per /64)`;
  }
  return null;
}
