import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StartedTestContainer } from "testcontainers";
import { RulesetError } from "../../firewall/ruleset.js";
import type { Fail2banDefence, Scenario } from "../../scenario/scenario.js";
import type { AgentEndpoint } from "../../traffic/agent.js";
import { EngineUnavailableError } from "../engine.js";
import { closeBridgePassage, openBridgePassage } from "./bridge-passage.js";
import { cleanLab } from "./clean-lab.js";
import { LABEL_APP, LABEL_RUN, dockerRuntime, type Runtime } from "./docker-runtime.js";
import { LABEL_OWNER, ownerOfThisProcess } from "./run-owner.js";
import { VERDICT_GROUP } from "./instrument-ruleset.js";
import { WAN, WAN6, type LabTopology } from "./lab-topology.js";
import { actionOverride, jailLocal, startFail2ban } from "./lab-fail2ban.js";
import { loggerConfig, MAKE_LAB_CERTIFICATE } from "./pjsip-config.js";

/**
 * tcpdump's socket buffer for the NFLOG verdict group. A 100-phone burst
 * outruns the default 208 KiB and the kernel drops records; SO_RCVBUF is
 * capped by the host's net.core.rmem_max, which ci/setup-docker.sh raises.
 */
export const VERDICT_BUFFER_BYTES = 8 * 1024 * 1024;

const IP_FORWARD_CHECK = 'test "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 || { echo "net.ipv4.ip_forward is 0 in the lab (it follows the Docker host; dockerd normally sets it)" >&2; exit 1; }';

export interface LabOptions {
  readonly runId: string;
  readonly image: string;
  readonly scenario: Scenario;
  readonly topology: LabTopology;
  /** The ruleset text to load, already instrumented with verdict logging. */
  readonly rulesetText: string;
  /** How the firewall loads it: iptables-restore, or nft -f. */
  readonly rulesetFormat: "iptables" | "nft";
  /** The ip6tables rules to load beside it (instrumented the same way), when the scenario sends over IPv6. */
  readonly ipv6RulesetText?: string;
  readonly pjsipConf: string;
  readonly extensionsConf: string;
  readonly iaxConf: string;
  /** slamlab's package root, mounted read-only into traffic containers (they run dist/). */
  readonly packageRoot: string;
  /** Agents by where they run: "wan" or a NAT host's name. */
  readonly endpointsBySite: ReadonlyMap<string, readonly AgentEndpoint[]>;
  /** Capture files of replay sources: mounted at the same path inside the runners. */
  readonly captureDirectories: readonly string[];
  /**
   * Where real sipvicious tools send from: svwar and svcrack 0.3.3 ignore
   * -b (their TakeASip and ASipOfRedWine are never given the binding
   * address) and bind every address, so the kernel would pick the
   * container's first; their packets leave SNATed to their own address by
   * the port each binds.
   */
  readonly toolEndpoints?: readonly AgentEndpoint[];
  /** fail2ban's asterisk jail on the PBX host, when the scenario has it (its rules and sets are in the ruleset already). */
  readonly fail2ban?: Fail2banDefence;
}

export interface Lab extends AsyncDisposable {
  readonly out: string;
  readonly pbx: StartedTestContainer;
  /** Where the rules are loaded: shares the PBX's network namespace (host) or is the router (router). */
  readonly firewall: StartedTestContainer;
  readonly runners: ReadonlyMap<string, StartedTestContainer>;
  /** Each office's NAT router: its conntrack table says which LAN socket each public port stands for. */
  readonly nats: readonly StartedTestContainer[];
}

/**
 * Starts one run's lab: internal networks (no egress), a router between the
 * WAN and the PBX's network, Asterisk, the firewall with the ruleset loaded
 * and its verdict log running, a real NAT router per office, and a traffic
 * container per site holding its agents' addresses. Everything carries the
 * run's label; disposing the lab (or `slamlab clean`) removes it all.
 */
export async function startLab(options: LabOptions): Promise<Lab> {
  const runtime = await dockerRuntime();
  const out = await mkdtemp(join(tmpdir(), `slamlab-${options.runId}-`));
  const labels = { [LABEL_APP]: "slamlab", [LABEL_RUN]: options.runId, [LABEL_OWNER]: ownerOfThisProcess() };
  const dispose = async () => {
    await closeBridgePassage(runtime, options.image, options.runId).catch(() => undefined);
    // Containers, networks and the run's log directory (read into its result by now).
    await cleanLab(options.runId);
  };
  try {
    const networks = await createNetworks(runtime, options, labels);
    const bridges = await Promise.all([...networks.values()].map(async (name) => `br-${(await runtime.container.dockerode.getNetwork(name).inspect()).Id.slice(0, 12)}`));
    await openBridgePassage(runtime, options.image, options.runId, bridges);
    const { GenericContainer } = await import("testcontainers");
    /** A container whose network namespace gets its own sysctls (net.* are per namespace; /proc/sys is read-only inside). */
    class LabContainer extends GenericContainer {
      withSysctls(sysctls: Record<string, string>): this {
        this.hostConfig.Sysctls = { ...this.hostConfig.Sysctls, ...sysctls };
        return this;
      }
    }
    const ipv6 = options.topology.ipv6;
    // Docker turns IPv6 off in a container on an IPv4 network; the lab's IPv6 rides the same bridges.
    const ipv6On: Record<string, string> = ipv6 ? { "net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.default.disable_ipv6": "0", "net.ipv6.conf.all.accept_ra": "0", "net.ipv6.conf.default.accept_ra": "0" } : {};
    const base = (name: string) =>
      new LabContainer(options.image)
        .withSysctls(name === "firewall" || name.startsWith("nat-") ? {} : ipv6On)
        .withName(`slamlab-${options.runId}-${name}`)
        .withLabels(labels)
        .withCommand(["sleep", "infinity"])
        .withBindMounts([{ source: out, target: "/out", mode: "rw" }])
        .withStartupTimeout(60_000);

    // Router: WAN <-> the PBX's network. New network namespaces inherit the host's ip_forward,
    // which dockerd turns on; /proc/sys is read-only in containers, so it is checked, not set.
    // Containers start side by side; each is configured once it runs.
    const [router, pbx, nats, runnerList] = await Promise.all([
      base("router")
        .withNetworkMode(networks.get("wan")!)
        .withAddedCapabilities("NET_ADMIN", "NET_RAW")
        .withSysctls(ipv6 ? { "net.ipv6.conf.all.forwarding": "1" } : {})
        .start(),
      base("pbx")
        .withNetworkMode(networks.get("dmz")!)
        .withAddedCapabilities("NET_ADMIN", "NET_RAW")
        .withCopyContentToContainer([
          { content: options.pjsipConf, target: "/etc/asterisk/pjsip.conf" },
          { content: options.extensionsConf, target: "/etc/asterisk/extensions.conf" },
          { content: options.iaxConf, target: "/etc/asterisk/iax.conf" },
          { content: loggerConfig(), target: "/etc/asterisk/logger.conf" },
          ...(options.fail2ban
            ? [
                { content: jailLocal(options.fail2ban), target: "/etc/fail2ban/jail.d/slamlab.local" },
                { content: actionOverride(options.fail2ban).content, target: actionOverride(options.fail2ban).path },
              ]
            : []),
        ])
        .start(),
      Promise.all(
        options.topology.offices.map((office) =>
          base(`nat-${office.host}`)
            .withNetworkMode(networks.get("wan")!)
            .withAddedCapabilities("NET_ADMIN", "NET_RAW")
            // A dual-stack office's router routes its IPv6 prefix as it is (no NAT66).
            .withSysctls(office.ipv6 ? { ...ipv6On, "net.ipv6.conf.all.forwarding": "1" } : {})
            .start(),
        ),
      ),
      Promise.all(
        [...options.endpointsBySite.keys()].map((site) => {
          const office = options.topology.offices.find((candidate) => candidate.host === site);
          return base(`traffic-${site}`)
            .withNetworkMode(networks.get(office ? office.key : "wan")!)
            // SYS_NICE: the runner raises its own priority (docker-engine.ts).
            .withAddedCapabilities("NET_ADMIN", "NET_RAW", "SYS_NICE")
            .withBindMounts([
              { source: out, target: "/out", mode: "rw" },
              { source: options.packageRoot, target: "/slamlab", mode: "ro" },
              ...options.captureDirectories.map((directory) => ({ source: directory, target: directory, mode: "ro" as const })),
            ])
            .start();
        }),
      ),
    ]);
    await connect(runtime, networks.get("dmz")!, router);
    await configure(router, [
      ...(await staticAddress(runtime, router, networks.get("wan")!, `${WAN.router}/${WAN.prefixLength}`)),
      // Every lab prefix is on-link on the WAN: each runner answers for its own addresses.
      ...(ipv6 ? [`ip -6 addr add ${WAN6.router}/64 dev "$dev" nodad`, ...WAN6.onLink.map((prefix) => `ip -6 route replace ${prefix} dev "$dev"`)] : []),
      // A dual-stack office's prefix lies behind its router.
      ...options.topology.offices.flatMap((office) => (ipv6 && office.ipv6 ? [`ip -6 route replace ${office.ipv6.prefix} via ${office.ipv6.routerWan} dev "$dev"`] : [])),
      ...(await staticAddress(runtime, router, networks.get("dmz")!, `${options.topology.dmz.router}/${options.topology.dmz.prefixLength}`)),
      ...(ipv6 ? [`ip -6 addr add ${ipv6.dmzRouter}/64 dev "$dev" nodad`] : []),
      IP_FORWARD_CHECK,
    ]);

    const pbxInterface = options.scenario.pbx.interface;
    await configure(pbx, [
      ...(await staticAddress(runtime, pbx, networks.get("dmz")!, `${options.scenario.pbx.address}/${options.topology.dmz.prefixLength}`)),
      // The PBX's interface takes the scenario's name, so the ruleset's -i and -o judge it as the admin's host would.
      `[ "$dev" = ${pbxInterface} ] || { ip link set "$dev" down && ip link set "$dev" name ${pbxInterface} && ip link set ${pbxInterface} up; }`,
      `ip route replace default via ${options.topology.dmz.router}`,
      ...(ipv6 ? [`ip -6 addr add ${ipv6.pbx}/64 dev ${pbxInterface} nodad`, `ip -6 route replace default via ${ipv6.dmzRouter}`] : []),
    ]);
    // Asterisk takes a second or two to load its modules: it starts now and is waited for last.
    await pbx.exec(["sh", "-c", `${MAKE_LAB_CERTIFICATE}; nohup asterisk -f > /out/asterisk.log 2>&1 &`]);

    const placement = options.scenario.firewall.kind === "policy" ? options.scenario.firewall.policy.placement : "host";
    const firewall =
      placement === "host"
        ? await base("firewall").withNetworkMode(`container:${pbx.getId()}`).withAddedCapabilities("NET_ADMIN", "NET_RAW").start()
        : router;
    // Listening before the ruleset loads: a packet it logs with no listener is counted but never read,
    // and the run's wait for its last records would wait for it.
    await firewall.exec(["sh", "-c", `nohup tcpdump -i nflog:${VERDICT_GROUP} -B ${VERDICT_BUFFER_BYTES / 1024} -U -s 0 -w /out/verdicts.pcap > /out/tcpdump.log 2>&1 &`]);
    await waitFor(firewall, "grep -q listening /out/tcpdump.log", "tcpdump on the NFLOG verdict group");
    // The sets the ruleset names exist before it loads; their entries come just before time 0 (addIpsetEntries),
    // so their timeouts count from where the model's do.
    const ipset = options.scenario.firewall.kind === "ruleset" ? options.scenario.firewall.ipset : undefined;
    if (ipset) {
      await writeFile(join(out, "ipset-create"), ipsetLines(ipset.text, "create"));
      await writeFile(join(out, "ipset-add"), ipsetLines(ipset.text, "add"));
      const created = await firewall.exec(["sh", "-c", "ipset restore < /out/ipset-create"]);
      if (created.exitCode !== 0) throw new RulesetError("RULESET_REJECTED", `ipset restore rejected ${ipset.path} (exit ${created.exitCode}): ${(created.stderr || created.output).trim()}`);
    }
    const loader = options.rulesetFormat === "nft" ? "nft -f" : "iptables-restore";
    await writeFile(join(out, "ruleset.rules"), options.rulesetText);
    const restore = await firewall.exec(["sh", "-c", options.rulesetFormat === "nft" ? "nft -f /out/ruleset.rules" : "iptables-restore < /out/ruleset.rules"]);
    if (restore.exitCode !== 0) {
      throw new RulesetError("RULESET_REJECTED", `${loader} rejected the ruleset (exit ${restore.exitCode}): ${(restore.stderr || restore.output).trim()}`);
    }
    if (options.ipv6RulesetText !== undefined) {
      await writeFile(join(out, "ruleset6.rules"), options.ipv6RulesetText);
      const restore6 = await firewall.exec(["sh", "-c", "ip6tables-restore < /out/ruleset6.rules"]);
      if (restore6.exitCode !== 0) throw new RulesetError("RULESET_REJECTED", `ip6tables-restore rejected the IPv6 ruleset (exit ${restore6.exitCode}): ${(restore6.stderr || restore6.output).trim()}`);
    }


    for (const [officeIndex, office] of options.topology.offices.entries()) {
      const nat = nats[officeIndex]!;
      await connect(runtime, networks.get(office.key)!, nat);
      const wanSetup = await staticAddress(runtime, nat, networks.get("wan")!, `${office.publicAddress}/${WAN.prefixLength}`);
      const office6 = ipv6 ? office.ipv6 : undefined;
      await configure(nat, [
        ...wanSetup,
        ...(office6 ? [`ip -6 addr add ${office6.routerWan}/64 dev "$dev" nodad`] : []),
        ...(await staticAddress(runtime, nat, networks.get(office.key)!, `${office.routerLan}/${office.prefixLength}`)),
        ...(office6 ? [`ip -6 addr add ${office6.routerLan}/${office6.prefixLength} dev "$dev" nodad`] : []),
        `ip route replace ${options.topology.dmz.subnet} via ${WAN.router}`,
        ...(ipv6 && office6 ? [`ip -6 route replace ${ipv6.dmzPrefix} via ${WAN6.router}`] : []),
        IP_FORWARD_CHECK,
        // The office's one public address: everything from the LAN leaves masqueraded behind it.
        `iptables -t nat -A POSTROUTING -s ${office.subnet} -o "$(ip -o -4 addr show | awk '$4 ~ /^${office.publicAddress.replace(/\./g, "\\.")}\\// {print $2}')" -j MASQUERADE`,
      ]);
    }

    const runners = new Map<string, StartedTestContainer>();
    for (const [siteIndex, [site, endpoints]] of [...options.endpointsBySite].entries()) {
      const office = options.topology.offices.find((candidate) => candidate.host === site);
      const network = networks.get(office ? office.key : "wan")!;
      const runner = runnerList[siteIndex]!;
      const addresses = [...new Set(endpoints.map((endpoint) => endpoint.address))];
      const prefix = office ? office.prefixLength : WAN.prefixLength;
      const ipv4Addresses = addresses.filter((address) => !address.includes(":"));
      const primary = ipv4Addresses[0] ?? (office ? office.runner : WAN.runner);
      const setup = await staticAddress(runtime, runner, network, `${primary}/${prefix}`);
      // On the WAN, IPv6 addresses each a /128 beside the lab's own in its kept /64 (the router's on-link routes find them);
      // in a dual-stack office, addresses of its prefix behind its router.
      const office6 = ipv6 && office ? office.ipv6 : undefined;
      const ipv6Addresses = ipv6 && !office ? [WAN6.runner, ...addresses.filter((address) => address.includes(":"))] : office6 ? addresses.filter((address) => address.includes(":")) : [];
      const ipv6Length = (address: string) => (office6 ? office6.prefixLength : address === WAN6.runner ? 64 : 128);
      const batch = [
        ...ipv4Addresses.filter((address) => address !== primary).map((address) => `address add ${address}/${prefix} dev DEV\n`),
        ...ipv6Addresses.map((address) => `address add ${address}/${ipv6Length(address)} dev DEV nodad\n`),
      ];
      await writeFile(join(out, `addresses-${site}.batch`), batch.join(""));
      await configure(runner, [
        ...setup,
        `sed -i "s/DEV/$(ip -o -4 addr show | awk '$4 ~ /^${primary.replace(/\./g, "\\.")}\\// {print $2}')/" /out/addresses-${site}.batch`,
        `ip -batch /out/addresses-${site}.batch`,
        office ? `ip route replace default via ${office.routerLan}` : `ip route replace ${options.topology.dmz.subnet} via ${WAN.router}`,
        ...(ipv6 && ipv6Addresses.length ? [`ip -6 route replace ${ipv6.dmzPrefix} via ${office6 ? office6.routerLan : WAN6.router}`] : []),
        ...(options.toolEndpoints ?? []).filter((tool) => addresses.includes(tool.address)).map((tool) => `iptables -t nat -A POSTROUTING -p udp --sport ${tool.port} -j SNAT --to-source ${tool.address}`),
      ]);
      runners.set(site, runner);
    }
    await waitFor(pbx, "asterisk -rx 'pjsip show transports' | grep -q transport-tls", "Asterisk's PJSIP transports");
    if (options.fail2ban) await startFail2ban(pbx, options.fail2ban);
    return { out, pbx, firewall, runners, nats, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function createNetworks(runtime: Runtime, options: LabOptions, labels: Record<string, string>): Promise<Map<string, string>> {
  const plans = [options.topology.wan, options.topology.dmz, ...options.topology.offices];
  const names = new Map<string, string>();
  for (const plan of plans) {
    const name = `slamlab-${options.runId}-${plan.key}`;
    try {
      await runtime.network.create({ Name: name, Internal: true, Labels: labels, IPAM: { Config: [{ Subnet: plan.subnet, IPRange: plan.ipRange, Gateway: plan.gateway }] } });
    } catch (error) {
      const message = (error as Error).message;
      const hint = /overlap/i.test(message) ? "; another lab run (or a leftover: slamlab clean) holds these addresses" : "";
      throw new EngineUnavailableError("DOCKER_NETWORK", `cannot create the lab network ${plan.subnet}: ${message.split("\n")[0]}${hint}`);
    }
    names.set(plan.key, name);
  }
  return names;
}

async function connect(runtime: Runtime, network: string, container: StartedTestContainer): Promise<void> {
  await runtime.container.dockerode.getNetwork(network).connect({ Container: container.getId() });
}

/** Shell lines that replace the address Docker gave on `network` by the lab's static one. */
async function staticAddress(runtime: Runtime, container: StartedTestContainer, network: string, address: string): Promise<string[]> {
  const info = await runtime.container.dockerode.getContainer(container.getId()).inspect();
  const given = info.NetworkSettings.Networks[network]?.IPAddress;
  if (!given) throw new EngineUnavailableError("DOCKER_NETWORK", `container ${info.Name} has no address on ${network}`);
  const device = `$(ip -o -4 addr show | awk '$4 ~ /^${given.replace(/\./g, "\\.")}\\// {print $2}')`;
  return [`dev=${device}`, 'test -n "$dev"', 'ip -4 addr flush dev "$dev"', `ip addr add ${address} dev "$dev"`];
}

async function configure(container: StartedTestContainer, lines: readonly string[]): Promise<void> {
  const result = await container.exec(["sh", "-ec", lines.join("\n")]);
  if (result.exitCode !== 0) throw new EngineUnavailableError("DOCKER_SETUP", `setting up ${container.getName()} failed: ${(result.stderr || result.output).trim().slice(0, 500)}`);
}

async function waitFor(container: StartedTestContainer, check: string, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await container.exec(["sh", "-c", check])).exitCode === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const log = await container.exec(["sh", "-c", "tail -5 /out/*.log 2>/dev/null"]);
  throw new EngineUnavailableError("DOCKER_SETUP", `${what} did not come up within ${timeoutMs / 1000} s in ${container.getName()}: ${log.output.trim().slice(0, 500)}`);
}

/** The create or the add lines of an `ipset save` text. */
function ipsetLines(text: string, command: "create" | "add"): string {
  return `${text
    .split(/\r?\n/)
    .filter((line) => line.trim().split(/\s+/)[0] === command)
    .join("\n")}\n`;
}

/** Fills the sets with the ipset file's entries: just before time 0, so their timeouts run from there. */
export async function addIpsetEntries(lab: { readonly firewall: { exec(command: string[]): Promise<{ exitCode: number; output: string; stderr?: string }> } }, scenario: Scenario): Promise<void> {
  if (scenario.firewall.kind !== "ruleset" || !scenario.firewall.ipset) return;
  const added = await lab.firewall.exec(["sh", "-c", "ipset restore < /out/ipset-add"]);
  if (added.exitCode !== 0) throw new RulesetError("RULESET_REJECTED", `ipset restore rejected the entries of ${scenario.firewall.ipset.path} (exit ${added.exitCode}): ${(added.stderr || added.output).trim()}`);
}
