import type { Runtime } from "./docker-runtime.js";
import { LABEL_APP, LABEL_RUN } from "./docker-runtime.js";

/**
 * Docker drops traffic on an internal network whose source or destination is
 * outside the network's subnet (its isolation rules, which the host's
 * br_netfilter applies to bridged packets too). The lab routes between its
 * networks, so each of its bridges gets one rule in DOCKER-USER that lets
 * packets stay on that same bridge, whatever their addresses; nothing may
 * still leave a bridge. The rules are set in the Docker host's network
 * namespace by a short-lived container, so a remote DOCKER_HOST works too,
 * and removed with the run.
 */
const COMMENT_PREFIX = "slamlab run ";

export async function openBridgePassage(runtime: Runtime, image: string, runId: string, bridges: readonly string[]): Promise<void> {
  const commands = bridges.map((bridge) => `iptables -I DOCKER-USER -i ${bridge} -o ${bridge} -m comment --comment "${COMMENT_PREFIX}${runId}" -j ACCEPT`);
  await onDockerHost(runtime, image, runId, `iptables -S DOCKER-USER >/dev/null 2>&1 || exit 0\n${commands.join("\n")}`);
}

/** Removes the rules of one run, or of every run. */
export async function closeBridgePassage(runtime: Runtime, image: string, runId?: string): Promise<void> {
  const pattern = runId ? `${COMMENT_PREFIX}${runId}` : COMMENT_PREFIX;
  await onDockerHost(
    runtime,
    image,
    runId ?? "clean",
    `iptables -S DOCKER-USER 2>/dev/null | grep -F -- '${pattern}' | sed 's/^-A /-D /' | while read -r rule; do eval "iptables $rule"; done; true`,
  );
}

async function onDockerHost(runtime: Runtime, image: string, runId: string, script: string): Promise<void> {
  const dockerode = runtime.container.dockerode;
  const container = await dockerode.createContainer({
    Image: image,
    Cmd: ["sh", "-ec", script],
    Labels: { [LABEL_APP]: "slamlab", [LABEL_RUN]: runId },
    HostConfig: { NetworkMode: "host", CapAdd: ["NET_ADMIN", "NET_RAW"], AutoRemove: false },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    if (StatusCode !== 0) {
      const logs = (await container.logs({ stdout: true, stderr: true })).toString();
      throw new Error(`setting the lab's bridge rules on the Docker host failed: ${logs.trim().slice(-300)}`);
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
