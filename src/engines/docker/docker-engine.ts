import { NOTHING_LOADED } from "../../firewall/ruleset.js";
import { ipv6RulesOf, policyTarget } from "../ipv6-rules.js";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { policyRulesetText } from "../../firewall/policy-ruleset.js";
import { looksLikeNft } from "../../firewall/nft/parse-nft.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { packageRoot } from "../../package-root.js";
import { ScenarioError, type Scenario } from "../../scenario/scenario.js";
import { fail2banFirewall, jailSets } from "../../scenario/with-fail2ban.js";
import type { AgentEndpoint } from "../../traffic/agent.js";
import { createTrafficSources } from "../../traffic/create-traffic-sources.js";
import { labMachineOf } from "../../traffic/host-addresses.js";
import { loadReplays } from "../../traffic/replay/load-replays.js";
import type { AgentEvent } from "../../verdict/verdict.js";
import { EngineUnavailableError, type Engine, type RunOptions, type RunResult } from "../engine.js";
import { defaultKernelSettings } from "../model/kernel-settings.js";
import { closeBridgePassage } from "./bridge-passage.js";
import { cleanLab } from "./clean-lab.js";
import { acquireLabLock, type LabLock } from "./lab-lock.js";
import { dockerRuntime } from "./docker-runtime.js";
import { ASTERISK_MESSAGES_LOG, bansInKernel, countFailedRequestLines, fail2banAccount, jailLocal, LOG_LINES_KEPT } from "./lab-fail2ban.js";
import { instrumentRuleset, VERDICT_GROUP } from "./instrument-ruleset.js";
import { countNftLogRecords, instrumentNftRuleset } from "./instrument-nft-ruleset.js";
import { joinVerdicts } from "./join-verdicts.js";
import { LIST_NAT_CONNECTIONS, natConnections } from "./nat-connections.js";
import { COUNT_SECURITY_EVENTS, parseSecurityEventCounts, securityEventsBySource } from "./lab-security-log.js";
import { buildLabImage, silentProgress, type ImageProgress } from "./lab-image.js";
import { planTopology } from "./lab-topology.js";
import { addIpsetEntries, startLab, VERDICT_BUFFER_BYTES } from "./lab.js";
import { ASTERISK_SECURITY_LOG, extensionsConfig, iaxConfig, pjsipConfig } from "./pjsip-config.js";
import { mayAimWithinJiffies } from "../planned-send-time.js";
import { startHeartbeat, TRAFFIC_WATCHDOG, type Heartbeat } from "./run-heartbeat.js";
import { runStartAfter, wallClockMovedMs } from "./run-start.js";
import { doneFile, readyFile, START_FILE, type RunnerSpec, type RunnerStart, type SendRecord } from "./runner-spec.js";
import { toolFindings } from "./tool-findings.js";
import { verdictLogProbe, waitForVerdictLog } from "./verdict-log-wait.js";
import { sippInjectionFile } from "./tool-command.js";
import { isSippOffice } from "../../scenario/sipp-office-tool.js";
import { ACCOUNT_AGENT } from "./join-verdicts.js";
import { passwordFor } from "../../traffic/passwords.js";
import { userSequence } from "../../scenario/user-list.js";

/**
 * From the start file to time 0: the runners poll for it every 2 ms, then
 * schedule their sources' first actions. They load and bind before it.
 */
export const START_SLACK_MS = 200;
/**
 * The traffic runners run ahead of Asterisk, tcpdump and dockerd on the two
 * cores: a send preempted past a jiffy boundary changes what the kernel counts.
 */
const RUNNER_NICENESS = -20;
/**
 * Node for a traffic runner: no optimising compilers, a new space large enough
 * that scavenges come seconds apart, and an old space no run fills. Maglev and
 * TurboFan compiles, the deoptimisations after them, and a mark-compact mid-run
 * each stalled the runner up to 4 ms, past a jiffy boundary, at the same point
 * of every run of random-73 (the stall moved a hashlimit burst's phase). With
 * them off, the actions of random-73 that started or ran over 1.5 ms late went
 * from 5 to 9 a run to 1 to 4 (three runs each). --expose-gc lets the runner
 * collect once before time 0.
 */
const RUNNER_NODE_FLAGS = "--no-opt --no-maglev --expose-gc --min-semi-space-size=16 --max-semi-space-size=64 --initial-old-space-size=256";
/** After the traffic ends: the last replies reach the firewall (Asterisk answers within milliseconds). */
const DRAIN_MS = 300;
/** Wall clock movement a run tolerates on top of NTP's slewing (at most 0.5 ms a second); a step is seconds. */
const WALL_CLOCK_STEP_MS = 100;
/** The send-error figures of a run with no paced sends (only real tools sent). */
export const NOT_MEASURED = "not measured";

/**
 * The ground truth: the scenario against real Asterisk 22 behind the ruleset
 * in a real kernel, in an internal Docker lab. Produces the same RunResult as
 * the model engine: verdicts from the firewall's own NFLOG log.
 */
export class DockerEngine implements Engine {
  readonly name = "docker" as const;

  constructor(private readonly progress: ImageProgress = silentProgress) {}

  async run(requested: Scenario, options: RunOptions = {}): Promise<RunResult> {
    const wallStart = performance.now();
    const seed = options.seed ?? requested.seed;
    if (options.kernel && Object.keys(options.kernel).length) {
      throw new EngineUnavailableError("DOCKER_KERNEL", "--kernel settings change the model engine only; the docker engine runs the machine's own kernel");
    }
    // fail2ban's jail: its sets and REJECT rules join the ruleset (the lab logs their verdicts), real fail2ban fills the sets.
    const jailed = requested.fail2ban ? fail2banFirewall(requested, requested.fail2ban) : null;
    const scenario: Scenario = jailed ? { ...requested, firewall: jailed.firewall } : requested;
    const rulesetText = scenario.firewall.kind === "policy" ? policyRulesetText(scenario.firewall.policy, scenario.firewall.format, policyTarget(scenario)) : scenario.firewall.text;
    const rulesetPath = scenario.firewall.kind === "ruleset" ? scenario.firewall.path : "generated ruleset";
    // An nftables ruleset loads with nft -f and logs its verdicts itself; an iptables one is read for its rules' targets.
    const nft = looksLikeNft(rulesetText);
    const ruleset = nft ? null : parseRuleset(rulesetText, rulesetPath);
    const timed = [...(ruleset?.tables.values() ?? [])].flatMap((table) => [...table.chains.values()].flatMap((chain) => chain.rules)).find((rule) => rule.matches.some((match) => match.module === "time"));
    if (scenario.startsAt !== undefined && timed) {
      // The lab's kernel keeps the host's real clock: a container cannot set it.
      throw new ScenarioError(
        "SCENARIO_CLOCK",
        `${scenario.file}: startsAt ${scenario.startsAt} sets the clock that line ${timed.line}'s -m time judges by, but the docker engine's kernel keeps the real clock; drop startsAt to run at the real time, or use --engine model`,
      );
    }
    const root = packageRoot();
    if (!existsSync(join(root, "dist", "src", "engines", "docker", "agent-runner.js"))) {
      throw new EngineUnavailableError("DOCKER_BUILD", `the traffic containers run slamlab's compiled code and ${join(root, "dist")} has none: run npm run build`);
    }
    const image = await buildLabImage(this.progress);
    const replays = await loadReplays(scenario);
    const sources = createTrafficSources(scenario, replays, { tools: "placeholders" });
    const toolAgents = new Map<string, { source: string; agent: string }>();
    for (const spec of scenario.traffic) {
      if (spec.kind !== "tool") continue;
      const endpoint = sources.find((source) => source.name === spec.name)!.agents[0]!;
      // Keyed by address and port: tools on one host each bind a port of their own. A SIPp office's
      // calls may each have a port (-t un): its address is its own, and each message names its account.
      if (isSippOffice(spec)) toolAgents.set(`${endpoint.address}:*`, { source: spec.name, agent: ACCOUNT_AGENT });
      else toolAgents.set(`${endpoint.address}:${endpoint.port}`, { source: spec.name, agent: endpoint.agent });
    }
    const siteOf = (sourceName: string) => {
      const spec = scenario.traffic.find((candidate) => candidate.name === sourceName)!;
      return labMachineOf(spec.host, scenario.hosts[spec.host]);
    };
    const endpointsBySite = new Map<string, AgentEndpoint[]>();
    const sourcesBySite = new Map<string, string[]>();
    for (const source of sources) {
      const site = siteOf(source.name);
      endpointsBySite.set(site, [...(endpointsBySite.get(site) ?? []), ...source.agents]);
      sourcesBySite.set(site, [...(sourcesBySite.get(site) ?? []), source.name]);
    }
    const topology = planTopology(scenario, [...endpointsBySite.values()].flat());
    const runId = randomBytes(4).toString("hex");
    const instrumented = nft ? instrumentNftRuleset(rulesetText, rulesetPath) : instrumentRuleset(rulesetText);
    // The host's ip6tables rules beside them when IPv6 runs (none given: ACCEPT policies, logged all the same).
    const ipv6Rules = ipv6RulesOf(scenario, scenario.firewall);
    const ruleset6 = !nft && (ipv6Rules || topology.ipv6) ? parseRuleset(ipv6Rules?.text ?? NOTHING_LOADED, ipv6Rules?.path ?? "ip6tables (no rules loaded)", undefined, 6) : null;
    const instrumented6 = ruleset6 ? instrumentRuleset(ruleset6.text, 6) : undefined;
    const pjsipConf = pjsipConfig(scenario.pbx);
    const extensionsConf = extensionsConfig(scenario.pbx);
    const iaxConf = iaxConfig(scenario.pbx);

    // Ctrl-C or a kill mid-run still removes the lab; a second pass catches a container whose
    // creation was already on its way to dockerd during the first.
    let lock: LabLock | null = null;
    let heartbeat: Heartbeat | undefined;
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      stopping = true;
      process.stderr.write(`\nslamlab: ${signal}: stopping run ${runId} and removing its lab\n`);
      const clean = async () => {
        heartbeat?.stop();
        const runtime = await dockerRuntime();
        await closeBridgePassage(runtime, image.tag, runId).catch(() => undefined);
        const first = await cleanLab(runId);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const second = await cleanLab(runId);
        lock?.release();
        process.stderr.write(`slamlab: removed run ${runId}: ${first.containers + second.containers} containers, ${first.networks + second.networks} networks, its bridge rules on the Docker host and its temp folder\n`);
      };
      void clean()
        .catch((error: unknown) => process.stderr.write(`slamlab: cleaning up run ${runId} failed (${(error as Error).message}); run slamlab clean\n`))
        .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    // Every run uses the same lab subnets: a second run on this machine waits for the first.
    lock = await acquireLabLock((holder) => process.stderr.write(`slamlab: another docker run (${holder.split(":").slice(0, 2).join(" pid ")}) is using the lab's networks; waiting for it to finish (one docker run at a time per machine)\n`));
    try {
      await using lab = await startLab({
        runId,
        image: image.tag,
        scenario,
        topology,
        rulesetText: instrumented,
        rulesetFormat: nft ? "nft" : "iptables",
        ...(instrumented6 !== undefined ? { ipv6RulesetText: instrumented6 } : {}),
        pjsipConf,
        extensionsConf,
        iaxConf,
        packageRoot: root,
        endpointsBySite,
        captureDirectories: [...new Set(scenario.traffic.flatMap((spec) => (spec.kind === "replay" ? [dirname(spec.file)] : [])))],
        ...(jailed ? { fail2ban: jailed.jail } : {}),
        toolEndpoints: scenario.traffic.flatMap((spec) => (spec.kind === "tool" && spec.tool !== "sipp-register" ? [sources.find((source) => source.name === spec.name)!.agents[0]!] : [])),
      });
      // A stop that came while the lab started: its cleanup owns the lab now, and ends the process.
      if (stopping) return await new Promise<never>(() => undefined);
      const labStartMs = performance.now() - wallStart;
      for (const spec of scenario.traffic) if (spec.kind === "tool" && isSippOffice(spec)) await writeFile(join(lab.out, sippInjectionFile(spec)), sippInjection(spec, scenario));
      // The traffic containers stop sending when this process stops beating (kill -9 leaves no other trace).
      heartbeat = startHeartbeat(lab.out);
      await Promise.all([...lab.runners.values()].map((container) => container.exec(["sh", "-c", `nohup nice -n 19 sh -c '${TRAFFIC_WATCHDOG}' > /dev/null 2>&1 &`])));
      const endUs = scenario.durationSeconds * 1_000_000;
      // nft's limit counts nanoseconds, as iptables-nft's -m limit does: such a ruleset gets its packets at their scheduled times.
      const aimWithinJiffies = ruleset ? mayAimWithinJiffies(ruleset, defaultKernelSettings) : !/\blimit\s+rate\b/.test(rulesetText);
      const saveCommand = nft ? "nft list ruleset" : "iptables-save -c";
      const save6Command = "ip6tables-save -c";
      const countRecords = (saved: string) => (nft ? countNftLogRecords(saved) : countNflogPackets(saved));
      // Both families' records share the NFLOG group: their counters together count the log.
      const countAllRecords = async () => countRecords(await shell(lab.firewall, saveCommand)) + (ruleset6 ? countNflogPackets(await shell(lab.firewall, save6Command)) : 0);
      const asteriskCpuBefore = await cpuNanoseconds(lab.pbx);
      for (const [site, names] of sourcesBySite) {
        const spec: RunnerSpec = { name: site, scenario, sources: names, aimWithinJiffies, endUs, seed, out: "/out" };
        await writeFile(join(lab.out, `runner-${site}.json`), JSON.stringify(spec));
        await lab.runners.get(site)!.exec(["sh", "-c", `nohup nice -n ${RUNNER_NICENESS} node ${RUNNER_NODE_FLAGS} /slamlab/dist/src/engines/docker/agent-runner.js /out/runner-${site}.json > /out/runner-${site}.log 2>&1 &`]);
      }
      await waitForRunnerFiles(lab.out, [...sourcesBySite.keys()], readyFile, Date.now() + READY_TIMEOUT_MS, 10, `the traffic containers were not ready after ${READY_TIMEOUT_MS / 1000} s`);
      const runnersReadyMs = performance.now() - wallStart - labStartMs;
      await addIpsetEntries(lab, scenario);
      const start = runStartAfter(START_SLACK_MS, 1_000_000 / defaultKernelSettings.hz);
      const t0EpochMs = start.epochMs;
      // Renamed into place: a runner polling for it never reads half of it.
      await writeFile(join(lab.out, `${START_FILE}.tmp`), JSON.stringify({ t0MonotonicNs: start.monotonicNs } satisfies RunnerStart));
      await rename(join(lab.out, `${START_FILE}.tmp`), join(lab.out, START_FILE));
      await waitForRunnerFiles(lab.out, [...sourcesBySite.keys()], doneFile, t0EpochMs + scenario.durationSeconds * 1000 + 60_000, 50, "the traffic containers did not finish in time");
      await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
      const asteriskCpuSeconds = (await cpuNanoseconds(lab.pbx)) - asteriskCpuBefore;
      const shell = async (container: typeof lab.pbx, command: string) => (await container.exec(["sh", "-c", command])).output;
      // The run's records are those the kernel had logged when the traffic and its answers were over: the NFLOG
      // stream keeps the kernel's order, so they are the log's first ones, and what the PBX sends later on its
      // own (IAX2 keepalives, an INVITE's retransmitted answer) is not the run's, as the model stops at its end.
      const recordsAtEnd = await countAllRecords();
      const recordsOfRun = recordsAtEnd > 0 ? recordsAtEnd : undefined;
      const verdictLog = await waitForVerdictLog(verdictLogProbe(join(lab.out, "verdicts.pcap"), async () => recordsOfRun ?? (await countAllRecords())), t0EpochMs + scenario.durationSeconds * 1000);
      await lab.firewall.exec(["sh", "-c", "pkill -INT tcpdump; for i in $(seq 1 50); do grep -q 'dropped by kernel' /out/tcpdump.log && break; sleep 0.05; done"]);
      // tcpdump prints its counts as it exits (it stays a zombie: nothing in the container reaps it).
      const lostVerdicts = droppedByKernel(await readFile(join(lab.out, "tcpdump.log"), "utf8").catch(() => ""));
      if (lostVerdicts > 0) {
        throw new EngineUnavailableError(
          "DOCKER_VERDICTS_LOST",
          `the kernel dropped verdict records ${lostVerdicts} time(s) because tcpdump's netlink buffer was full, so this run's verdicts are incomplete: raise the host's net.core.rmem_max (sysctl -w net.core.rmem_max=${VERDICT_BUFFER_BYTES}; ci/setup-docker.sh does) and rerun`,
        );
      }
      // The run's evidence, read side by side: each exec costs a round trip to dockerd.
      const [natListings, save, save6, recent, contacts, versions, messagesEnd, asteriskLogLines, fail2ban, securityEventCounts, securityEnd] = await Promise.all([
        Promise.all(lab.nats.map((nat) => shell(nat, LIST_NAT_CONNECTIONS))),
        shell(lab.firewall, saveCommand),
        ruleset6 ? shell(lab.firewall, save6Command) : Promise.resolve(""),
        shell(lab.firewall, 'for f in /proc/net/xt_recent/*; do [ -e "$f" ] && { echo "== $f"; cat "$f"; }; done; true'),
        shell(lab.pbx, "asterisk -rx 'pjsip show contacts'"),
        shell(
          lab.pbx,
          "cat /etc/slamlab-versions; echo kernel: $(uname -r); for p in ip_list_tot ip_pkt_list_tot; do echo xt_recent.$p: $(cat /sys/module/xt_recent/parameters/$p 2>/dev/null); done",
        ),
        shell(lab.pbx, `tail -n ${LOG_LINES_KEPT} ${ASTERISK_MESSAGES_LOG}`),
        countFailedRequestLines(lab.pbx),
        jailed ? fail2banAccount(lab.pbx, t0EpochMs) : null,
        shell(lab.pbx, COUNT_SECURITY_EVENTS),
        shell(lab.pbx, `tail -n ${LOG_LINES_KEPT} ${ASTERISK_SECURITY_LOG}`),
      ]);
      const artifacts: Record<string, string> = {
        "pjsip.conf": pjsipConf,
        "extensions.conf": extensionsConf,
        "iax.conf": iaxConf,
        "ruleset.loaded": instrumented,
        [saveCommand]: save,
        ...(instrumented6 !== undefined ? { "ruleset6.loaded": instrumented6, [save6Command]: save6 } : {}),
        "/proc/net/xt_recent": recent,
        "pjsip show contacts": contacts,
        // What fail2ban reads, and what an admin greps: the end of it.
        [`${ASTERISK_MESSAGES_LOG} (last ${LOG_LINES_KEPT} lines)`]: messagesEnd,
        [`${ASTERISK_SECURITY_LOG} (last ${LOG_LINES_KEPT} lines)`]: securityEnd,
        ...(fail2ban && jailed ? { "fail2ban jail.d/slamlab.local": jailLocal(jailed.jail), "fail2ban.log": fail2ban.log } : {}),
      };
      // The kernel stamps NFLOG records on the wall clock: a step during the run moves every verdict.
      const clockMovedMs = wallClockMovedMs(start);
      if (Math.abs(clockMovedMs) > WALL_CLOCK_STEP_MS + 0.5 * (Date.now() - t0EpochMs) / 1000) {
        throw new EngineUnavailableError(
          "DOCKER_CLOCK_STEPPED",
          `the host's wall clock moved ${(clockMovedMs / 1000).toFixed(3)} s against its monotonic clock during the run (an NTP step?), so the kernel's verdict times cannot be placed in the run: rerun once the clock is synchronised`,
        );
      }
      const sends: SendRecord[] = [];
      const events: AgentEvent[] = [];
      for (const site of sourcesBySite.keys()) {
        // Loops, not push(...list): a flood's send log has more entries than the call stack takes arguments.
        for (const send of JSON.parse(await readFile(join(lab.out, `${site}.sends.json`), "utf8")) as SendRecord[]) sends.push(send);
        for (const event of JSON.parse(await readFile(join(lab.out, `${site}.events.json`), "utf8")) as AgentEvent[]) events.push(event);
      }
      const joined = await joinVerdicts({ verdictLog: join(lab.out, "verdicts.pcap"), sends, ruleset, ruleset6, pbxAddress: scenario.pbx.address, ...(topology.ipv6 ? { pbxAddress6: topology.ipv6.pbx } : {}), t0EpochMs, keepPackets: options.keepPackets === true, toolAgents, natConnections: natConnections(natListings), ...(recordsOfRun ? { recordLimit: recordsOfRun } : {}) });
      for (const event of joined.toolEvents) events.push(event);
      // A real tool's own output is its account of the attack: kept in the report, and what it says it found an event.
      for (const spec of scenario.traffic) {
        if (spec.kind !== "tool") continue;
        const output = await readFile(join(lab.out, `tool-${spec.name}.log`), "utf8").catch(() => "");
        artifacts[`${spec.name} output (${spec.tool})`] = output;
        const agent = sources.find((source) => source.name === spec.name)!.agents[0]!.agent;
        const own = joined.verdicts.filter((verdict) => verdict.source === spec.name);
        const registeredAtUs = joined.toolEvents.find((event) => event.source === spec.name && event.kind === "registered")?.atUs ?? null;
        const lastSentUs = own.filter((verdict) => verdict.direction === "to-pbx").at(-1)?.atUs ?? 0;
        for (const event of toolFindings(spec, agent, output, { registeredAtUs, lastSentUs })) events.push(event);
      }
      joined.verdicts.sort((a, b) => a.atUs - b.atUs);
      const order = joined.verdicts.map((verdict) => verdict.packetId);
      const verdicts = joined.verdicts.map((verdict, index) => ({ ...verdict, packetId: index }));
      const packets = options.keepPackets ? order.map((id) => joined.packets[id]!) : undefined;
      const nflogCounted = recordsOfRun ?? countRecords(save) + (ruleset6 ? countNflogPackets(save6) : 0);
      const errors = sends.filter((send) => send.paced).map((send) => send.sentUs - send.aimedUs).sort((a, b) => a - b);
      const percentile = (p: number) => (errors.length ? errors[Math.min(errors.length - 1, Math.floor(p * errors.length))]! : 0);
      const environment: Record<string, string> = {
        engine: "docker",
        image: image.tag,
        placement: scenario.firewall.kind === "policy" ? scenario.firewall.policy.placement : "host",
        ...Object.fromEntries(
          versions
            .split("\n")
            .filter((line) => line.includes(": "))
            .map((line) => [line.slice(0, line.indexOf(": ")), line.slice(line.indexOf(": ") + 2).trim()]),
        ),
        "planned sends": aimWithinJiffies ? "early in their jiffy" : "at their scheduled time (a rule reads nftables' ns clock)",
        // Real tools keep their own time: a run of nothing else has no send error to report, not one of 0.
        "send error p50 (µs)": errors.length ? String(percentile(0.5)) : NOT_MEASURED,
        "send error p99 (µs)": errors.length ? String(percentile(0.99)) : NOT_MEASURED,
        "send error max (µs)": errors.length ? String(errors.at(-1)) : NOT_MEASURED,
        "verdicts logged (iptables counters)": String(nflogCounted),
        "verdicts logged (NFLOG records)": String(joined.records),
        // Records of the run counted but not yet read when tcpdump stopped (a starved firewall): their verdicts are missing.
        "verdict records unread at the stop": String(Math.max(0, verdictLog.counted - verdictLog.written)),
        "verdicts joined": String(verdicts.length),
        "logged but not sent by a source": String(joined.unmatched),
        "asterisk cpu (s)": (asteriskCpuSeconds / 1e9).toFixed(3),
        // Where the per-scenario overhead goes: bench/docker-lab.js prints these.
        "lab start (s)": (labStartMs / 1000).toFixed(2),
        "runners ready (s)": (runnersReadyMs / 1000).toFixed(2),
        "wall clock moved during the run (ms)": clockMovedMs.toFixed(3),
        "after the traffic (s)": ((Date.now() - t0EpochMs) / 1000 - scenario.durationSeconds).toFixed(2),
        "asterisk contacts": contactsOf(artifacts["pjsip show contacts"]!).join(" ") || "none",
      };
      const agentsBySource: Record<string, string[]> = {};
      for (const source of sources) agentsBySource[source.name] = [...new Set(source.agents.map((endpoint) => endpoint.agent))];
      return {
        engine: "docker",
        scenario: scenario.name,
        variant: scenario.variant,
        seed,
        rulesetText,
        ...(ruleset6 ? { ipv6RulesetText: ruleset6.text } : {}),
        ...(scenario.firewall.kind === "ruleset" && scenario.firewall.ipset ? { ipsetText: scenario.firewall.ipset.text } : {}),
        localAddresses: scenario.firewall.kind === "policy" && scenario.firewall.policy.placement === "router" ? [] : [scenario.pbx.address, ...(scenario.pbx.address6 === undefined ? [] : [scenario.pbx.address6])],
        verdicts,
        events: events.sort((a, b) => a.atUs - b.atUs),
        agentsBySource,
        durationUs: endUs,
        wallMs: performance.now() - wallStart,
        wallClockStartMs: t0EpochMs,
        environment,
        artifacts,
        asteriskLogLines,
        securityEvents: securityEventsBySource(parseSecurityEventCounts(securityEventCounts), verdicts),
        ...requestsWrittenBySource(sends),
        ...(fail2ban && jailed
          ? { fail2ban: { sets: jailSets(jailed.jail).map(({ set }) => set), bantimeSeconds: jailed.jail.bantimeSeconds, bans: bansInKernel(fail2ban.bans, verdicts).filter((ban) => ban.atUs >= 0 && ban.atUs <= endUs) } }
          : {}),
        ...(packets ? { packets } : {}),
      };
    } catch (error) {
      // Removing the lab under a starting run fails its next step ("no such network"): that is the
      // interruption, not a bug. The signal's cleanup ends the process once the lab is gone.
      if (stopping) return await new Promise<never>(() => undefined);
      throw error;
    } finally {
      heartbeat?.stop();
      lock.release();
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    }
  }
}

/** How long runners may take to load their scenario and bind their sockets. */
const READY_TIMEOUT_MS = 60_000;

/** Waits until every runner has written its file (ready, done); past the deadline, fails with their logs. */
async function waitForRunnerFiles(out: string, sites: readonly string[], fileOf: (site: string) => string, deadlineEpochMs: number, pollMs: number, failure: string): Promise<void> {
  while (Date.now() < deadlineEpochMs) {
    if (sites.every((site) => existsSync(join(out, fileOf(site))))) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const logs = await Promise.all(sites.map(async (site) => `${site}: ${(await readFile(join(out, `runner-${site}.log`), "utf8").catch(() => "")).trim().slice(-400) || "(no output)"}`));
  throw new EngineUnavailableError("DOCKER_RUNNER", `${failure}; their output is below, fix what it names and rerun:\n  ${logs.join("\n  ")}`);
}

/** CPU time the container's processes used (cgroup v1 cpuacct or v2 cpu.stat), in nanoseconds. */
async function cpuNanoseconds(container: { exec(command: string[]): Promise<{ output: string }> }): Promise<number> {
  const { output } = await container.exec(["sh", "-c", "cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || awk '/usage_usec/ {print $2 * 1000}' /sys/fs/cgroup/cpu.stat"]);
  return Number(output.trim().split("\n")[0]) || 0;
}

/** libpcap counts each ENOBUFS on the NFLOG socket as a drop; tcpdump prints the total when it stops. */
function droppedByKernel(tcpdumpLog: string): number {
  return Number(/(\d+) packets? dropped by kernel/.exec(tcpdumpLog)?.[1] ?? 0);
}

/** Packets the verdict-logging rules counted, from `iptables-save -c`. */
function countNflogPackets(save: string): number {
  let total = 0;
  for (const line of save.split("\n")) {
    const match = /^\[(\d+):\d+\] .*--nflog-group (\d+)/.exec(line);
    if (match && Number(match[2]) === VERDICT_GROUP) total += Number(match[1]);
  }
  return total;
}

/** AORs with a contact, from `pjsip show contacts`. */
function contactsOf(output: string): string[] {
  return [...output.matchAll(/^\s*Contact:\s+(\S+?)\/sip:/gm)].map((match) => match[1]!).sort();
}

/** A SIPp office's injection file: "SEQUENTIAL", then an "account;password" line per account, passwords from pbx.accounts. */
function sippInjection(tool: Extract<Scenario["traffic"][number], { kind: "tool" }>, scenario: Scenario): string {
  const accounts = userSequence(tool.target);
  const lines = Array.from({ length: accounts.size }, (_, index) => {
    const account = accounts.at(index);
    // check-scenario.ts refused passwords with a ";" or a line break, which SIPp's file cannot carry.
    return `${account};${tool.password ?? passwordFor(scenario.pbx, account) ?? ""}`;
  });
  return `SEQUENTIAL\n${lines.join("\n")}\n`;
}

/** The requests each source wrote to its connections, from the runners' send records. */
function requestsWrittenBySource(sends: readonly SendRecord[]): { requestsWritten?: Record<string, number> } {
  const requestsWritten: Record<string, number> = {};
  for (const send of sends) if (send.requests !== undefined) requestsWritten[send.source] = (requestsWritten[send.source] ?? 0) + send.requests;
  return Object.keys(requestsWritten).length ? { requestsWritten } : {};
}
