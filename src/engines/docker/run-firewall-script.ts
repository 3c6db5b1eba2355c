import { randomBytes } from "node:crypto";
import { basename, resolve } from "node:path";
import { endedOnHarmlessFailure, FAILURE_MARKER, failedCommands, type FailedCommand } from "../../firewall/import-firewall.js";
import { RulesetError } from "../../firewall/ruleset.js";
import { EngineUnavailableError } from "../engine.js";
import { cleanLab } from "./clean-lab.js";
import { LABEL_APP, LABEL_RUN, dockerRuntime } from "./docker-runtime.js";
import { buildLabImage, silentProgress, type ImageProgress } from "./lab-image.js";
import { LABEL_OWNER, ownerOfThisProcess } from "./run-owner.js";

export interface ScriptRun {
  /** `iptables-save` in the container once the script ended. */
  readonly rulesetText: string;
  /** `ip6tables-save` there: the IPv6 rules the script loaded (if it loaded any). */
  readonly ipv6RulesetText: string;
  /** `ipset save` there: the sets the script made (and those it was given). */
  readonly ipsetText: string;
  /** Every command that failed, by line, harmless ones included. */
  readonly failures: readonly FailedCommand[];
  readonly stderr: string;
  /** The script's own exit status. */
  readonly status: number;
  /** The status is only its last command's harmless failure (see endedOnHarmlessFailure). */
  readonly endedOnHarmlessFailure: boolean;
}

/** How long a firewall script may take in the container. */
const SCRIPT_TIMEOUT_SECONDS = 60;

/** What to do without Docker: the script never runs on this host. */
const BY_HAND =
  "slamlab runs a firewall script only inside a throwaway lab container, never on this host. Without Docker, make the iptables-save form by hand on a machine where running the script is safe (a test VM, or the PBX it was written for): run it, then `iptables-save > rules.v4` (and `ipset save > sets.ipset` if it uses sets), and give slamlab those files";

/**
 * Runs an admin's firewall script in a lab container with no network and
 * nothing of this host but the script (and the ipset file it is given), read
 * only; a failing command is reported with its line by an ERR trap, then the
 * container's iptables-save and ipset save are the result. The container is
 * removed by its run label whatever happens.
 */
export async function runFirewallScript(scriptPath: string, options: { ipsetPath?: string; env?: Readonly<Record<string, string>>; progress?: ImageProgress } = {}): Promise<ScriptRun> {
  try {
    await dockerRuntime();
  } catch (error) {
    if (error instanceof EngineUnavailableError) throw new EngineUnavailableError(error.code, `${error.message.split(";")[0]}. ${BY_HAND}`);
    throw error;
  }
  const image = await buildLabImage(options.progress ?? silentProgress);
  const runId = randomBytes(4).toString("hex");
  const { GenericContainer } = await import("testcontainers");
  const mounts = [{ source: resolve(scriptPath), target: `/import/${basename(scriptPath)}`, mode: "ro" as const }];
  if (options.ipsetPath) mounts.push({ source: resolve(options.ipsetPath), target: "/import/given.ipset", mode: "ro" as const });
  try {
    const container = await new GenericContainer(image.tag)
      .withName(`slamlab-${runId}-import`)
      .withLabels({ [LABEL_APP]: "slamlab", [LABEL_RUN]: runId, [LABEL_OWNER]: ownerOfThisProcess() })
      .withNetworkMode("none")
      .withAddedCapabilities("NET_ADMIN")
      .withCommand(["sleep", "infinity"])
      .withBindMounts(mounts)
      .withStartupTimeout(60_000)
      .start();
    const script = `/import/${basename(scriptPath)}`;
    const shell = [
      ...(options.ipsetPath ? ["ipset restore < /import/given.ipset || exit 97"] : []),
      "cd /import",
      // -E: functions and subshells inherit the trap; the script runs in this shell, so $LINENO is its own line.
      "set -E",
      `trap 'echo "${FAILURE_MARKER}:$LINENO:$?:$BASH_COMMAND" >&2' ERR`,
      `. ${script}`,
    ].join("\n");
    const env = Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`);
    const ran = await container.exec(["env", ...env, "timeout", String(SCRIPT_TIMEOUT_SECONDS), "bash", "-c", shell]);
    if (ran.exitCode === 124) {
      throw new RulesetError("SCRIPT_FAILED", `${scriptPath}: the script did not finish within ${SCRIPT_TIMEOUT_SECONDS} s in the lab container (it has no network there: does it wait for one, or for input?)`);
    }
    if (ran.exitCode === 97) throw new RulesetError("IPSET_REJECTED", `${options.ipsetPath}: ipset restore refused it in the lab container: ${ran.stderr.trim().slice(0, 300)}`);
    const saved = await container.exec(["iptables-save"]);
    const savedIpv6 = await container.exec(["ip6tables-save"]);
    const sets = await container.exec(["ipset", "save"]);
    // The tools name the script by its path in the container; the user knows it by his.
    const stderr = ran.stderr.split(script).join(scriptPath);
    // The source line itself fails when the script's last command did: that failure is already listed.
    const recorded = failedCommands(stderr);
    const failures = recorded.filter((failure) => failure.command !== `. ${scriptPath}`);
    return {
      rulesetText: saved.stdout,
      ipv6RulesetText: savedIpv6.stdout,
      ipsetText: sets.stdout,
      failures,
      stderr,
      status: ran.exitCode,
      endedOnHarmlessFailure: endedOnHarmlessFailure(recorded, `. ${scriptPath}`, ran.exitCode),
    };
  } finally {
    await cleanLab(runId).catch(() => undefined);
  }
}
