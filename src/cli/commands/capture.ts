import { Option, type Command } from "commander";
import { forEachSipRequest, inspectCapture, type CapturedSip } from "../../capture/inspect-capture.js";
import { FirstDropJudge } from "../../engines/model/judge-requests.js";
import { synthKinds, type SynthKind } from "../../engines/model/synth-kinds.js";
import { generateRuleset } from "../../firewall/generate-ruleset.js";
import { planOutputs, writeOutputs } from "../../report/output-files.js";
import { renderInspection } from "../../report/render-inspection.js";
import { renderInspectionJson, type InspectionJudge } from "../../report/render-inspection-json.js";
import { existsSync } from "node:fs";
import { readTextInput } from "../../input/read-text-input.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { compileFirewall } from "../../engines/model/netfilter/interpreter.js";
import { firewallState } from "../../engines/model/netfilter/firewall-state.js";
import { defaultKernelSettings } from "../../engines/model/kernel-settings.js";
import { isCanonicalIpv4 } from "../../net/address.js";
import { readPolicy } from "./read-policy.js";
import { CommandLineError } from "../exit-codes.js";
import { parseMaxPackets, parseSeed } from "../parse-options.js";

/** Registrars judged in the summary's own pass at most; a capture sending requests to more is judged in a second pass. */
const EARLY_JUDGES = 16;

interface SynthOptions {
  kind: string;
  out: string;
  seed?: string;
  ratePps?: string;
  durationSeconds?: string;
  rate?: string;
  duration?: string;
  count?: string;
  maxPackets?: string;
}

function positiveNumber(text: string | undefined, flag: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max) throw new CommandLineError(`${flag} ${text}: expected a number above 0 and at most ${max}`);
  return value;
}

export function registerCaptureCommand(program: Command): void {
  const capture = program.command("capture").description("look into captures before replaying them, or synthesise captures of known tools");
  capture
    .command("inspect")
    .description("summarise a pcap/pcapng: duration, SIP methods and responses, sources by REGISTER rate, User-Agents, and which sources a policy or your ruleset would block")
    .argument("<file>", "pcap or pcapng capture")
    .option("--allow-truncated", "read the intact packets of a capture that ends mid-packet")
    .option("--policy <name|file>", "judge the requests with this policy (built-in name or policy file; default: default)")
    .option("--ruleset <file>", "judge the requests with your own iptables-save file instead")
    .option("--pbx <address>", "with --ruleset: the address your rules protect (default: each registrar in the capture)")
    .option("--ruleset6 <file>", "with --ruleset: your ip6tables-save file, which judges the requests to IPv6 registrars")
    .option("--ipset <file>", "with --ruleset: the `ipset save` file with the sets your rules name")
    .option("--as-one-pbx", "judge the requests to every registrar in the capture through one firewall, as a replay of it runs them against the lab's one PBX (default: each registrar its own)")
    .option("--json [file]", "the summary as JSON (documented fields), to standard output or a file")
    .addHelpText("after", "\nExample: slamlab capture inspect attack.pcap --ruleset /etc/iptables/rules.v4 --pbx 198.51.100.10 --json")
    .action(async (file: string, options: { allowTruncated?: boolean; policy?: string; ruleset?: string; ruleset6?: string; pbx?: string; ipset?: string; asOnePbx?: boolean; json?: string | boolean }) => {
      if (options.policy !== undefined && options.ruleset !== undefined) throw new CommandLineError("give --policy or --ruleset, not both");
      if (options.pbx !== undefined && !isCanonicalIpv4(options.pbx)) throw new CommandLineError(`--pbx ${JSON.stringify(options.pbx)}: expected an IPv4 address a.b.c.d`);
      if (options.pbx !== undefined && options.ruleset === undefined) throw new CommandLineError("--pbx goes with --ruleset: a policy is generated for each registrar in the capture");
      if (options.asOnePbx && options.pbx !== undefined) throw new CommandLineError("--as-one-pbx or --pbx, not both: --pbx already judges every request as sent to that one address");
      if (options.ipset !== undefined && options.ruleset === undefined) throw new CommandLineError("--ipset goes with --ruleset: a generated policy uses no sets");
      if (options.ruleset6 !== undefined && options.ruleset === undefined) throw new CommandLineError("--ruleset6 goes with --ruleset: your ip6tables rules beside your iptables rules (a policy judges IPv6 with its own)");
      const jsonFile = typeof options.json === "string" ? options.json : undefined;
      const outputs = jsonFile ? planOutputs([{ flag: "--json", path: jsonFile }], [file, ...(options.ruleset ? [options.ruleset] : []), ...(options.ruleset6 ? [options.ruleset6] : []), ...(options.ipset ? [options.ipset] : []), ...(options.policy && existsSync(options.policy) ? [options.policy] : [])]) : [];
      // Read and checked before the capture, so a typo in the rules fails at once.
      const rulesetText = options.ruleset === undefined ? null : readTextInput(options.ruleset, "an iptables-save file");
      const ipset = options.ipset === undefined ? undefined : { path: options.ipset, text: readTextInput(options.ipset, "an ipset save file") };
      if (rulesetText !== null) compileFirewall(parseRuleset(rulesetText, options.ruleset), firewallState(defaultKernelSettings, options.pbx ? [options.pbx] : [], ipset));
      const ruleset6Text = options.ruleset6 === undefined ? null : readTextInput(options.ruleset6, "an ip6tables-save file");
      if (ruleset6Text !== null) compileFirewall(parseRuleset(ruleset6Text, options.ruleset6, undefined, 6), firewallState(defaultKernelSettings, [], ipset));
      const policy = rulesetText === null ? await readPolicy(options.policy ?? "default") : null;
      // An IPv6 registrar is judged by --ruleset6 or the policy's ip6tables rules (an IPv6 source counted per /64); a --ruleset
      // file alone is iptables' and --pbx an IPv4 address, so then IPv6 requests are not judged, and the report says so.
      const judgesIpv6 = rulesetText === null || ruleset6Text !== null;
      const makeJudge = (server: string) =>
        server.includes(":")
          ? new FirstDropJudge(ruleset6Text ?? generateRuleset(policy!.policy, { pbxAddress: server, pbx6Address: server }, 6), server, ipset, 6)
          : new FirstDropJudge(rulesetText ?? generateRuleset(policy!.policy, { pbxAddress: server }), server, ipset);
      // Judged as the capture is read: by the one address given, or by a judge for each address requests go to, the registrars
      // among them kept once the capture has said which they are. Past EARLY_JUDGES addresses (a sweep of many PBXs), or as one
      // PBX (which registrar stands for all is known only at the end), the requests are judged in a second pass instead.
      const early = new Map<string, FirstDropJudge>();
      let judgedEarly = !options.asOnePbx;
      const judgeEarly = (request: CapturedSip) => {
        if (!judgedEarly || (request.ipVersion === 6 && !judgesIpv6)) return;
        const server = request.ipVersion === 6 ? request.dst : (options.pbx ?? request.dst);
        let judge = early.get(server);
        if (!judge) {
          if (early.size >= EARLY_JUDGES) {
            judgedEarly = false;
            early.clear();
            return;
          }
          early.set(server, (judge = makeJudge(server)));
        }
        judge.judge(request, request.ip);
      };
      const summary = await inspectCapture(file, { allowTruncated: options.allowTruncated === true, onRequest: judgeEarly });
      // Each request is judged with the capture's own timing, by the user's rules or a policy per registrar (or all registrars as one, as a replay maps them).
      const drops = new Map<string, { atNs: bigint; index: number }>();
      // Each family's registrars: as one PBX, the first of each stands for the rest, as a replay maps them onto the lab PBX's two addresses.
      const registrars = summary.servers.filter((address) => !address.includes(":"));
      const registrars6 = judgesIpv6 ? summary.servers.filter((address) => address.includes(":")) : [];
      const servers = [
        ...(rulesetText !== null && options.pbx !== undefined ? [options.pbx] : options.asOnePbx ? registrars.slice(0, 1) : registrars),
        ...(options.asOnePbx ? registrars6.slice(0, 1) : registrars6),
      ];
      const judges = new Map(servers.map((server) => [server, (judgedEarly ? early.get(server) : undefined) ?? makeJudge(server)]));
      // Which judge a request goes to: the one address given, the one PBX all registrars of its family stand for, or its own registrar.
      const isRegistrar = new Set([...registrars, ...registrars6]);
      const judgeOf = (request: CapturedSip) => {
        if (request.ipVersion === 6) return options.asOnePbx ? (isRegistrar.has(request.dst) ? judges.get(registrars6[0]!) : undefined) : judges.get(request.dst);
        return options.pbx !== undefined ? judges.get(options.pbx) : options.asOnePbx ? (isRegistrar.has(request.dst) ? judges.get(registrars[0]!) : undefined) : judges.get(request.dst);
      };
      if (judges.size > 0 && !judgedEarly) {
        // A second pass: the requests are judged as they are read again, never held.
        await forEachSipRequest(file, { allowTruncated: options.allowTruncated === true }, (request) => {
          if (request.ipVersion === 4 || judgesIpv6) judgeOf(request)?.judge(request, request.ip);
        });
      }
      const judged = new Set<string>();
      for (const judge of judges.values()) for (const source of judge.judgedSources()) judged.add(source);
      for (const judge of judges.values()) {
        for (const [source, drop] of judge.drops()) {
          const known = drops.get(source);
          if (!known || drop.atNs < known.atNs) drops.set(source, drop);
        }
      }
      const registrarsJudged = options.pbx !== undefined ? "one address" : options.asOnePbx ? "as one PBX" : "each";
      const judge: InspectionJudge = {
        kind: rulesetText !== null ? "ruleset" : "policy",
        name: rulesetText !== null ? options.ruleset! : (options.policy ?? "default"),
        ruleset6: options.ruleset6 ?? null,
        pbxAddress: options.pbx ?? null,
        registrars: registrarsJudged,
      };
      if (options.json === undefined) process.stdout.write(renderInspection(summary, drops, judge, judged));
      else if (outputs[0]) await writeOutputs([{ output: outputs[0], data: renderInspectionJson(summary, drops, judge, judged) }]);
      else process.stdout.write(renderInspectionJson(summary, drops, judge, judged));
    });
  capture
    .command("synth")
    .description("write a capture with the packet shapes of a tool: svwar, svcrack, register-flood, nat-office, iax2-guess")
    .requiredOption("--kind <kind>", synthKinds.join(" | "))
    .requiredOption("--out <file>", "pcap file to write")
    .option("--seed <n>", "seed (same seed, same bytes)", "1")
    // Named as the scenario fields they set (ratePps, durationSeconds); the first names stay, unlisted.
    .option("--rate-pps <pps>", "requests per second per attacking address (a flood's ratePps)")
    .option("--duration-seconds <seconds>", "seconds of attack (a flood's durationSeconds)")
    .addOption(new Option("--rate <pps>").hideHelp())
    .addOption(new Option("--duration <seconds>").hideHelp())
    .option("--count <n>", "addresses (register-flood) or phones (nat-office)")
    .option("--max-packets <n>", "refuse captures estimated over this many packets (default 5,000,000)")
    .addHelpText("after", "\nExample: slamlab capture synth --kind svcrack --out svcrack.pcap --seed 2")
    .action(async (options: SynthOptions) => {
      if (!(synthKinds as readonly string[]).includes(options.kind)) throw new CommandLineError(`--kind ${options.kind}: choose one of ${synthKinds.join(", ")}`);
      const count = positiveNumber(options.count, "--count", 10_000);
      if (count !== undefined && !Number.isInteger(count)) throw new CommandLineError(`--count ${options.count}: expected a whole number`);
      const [output] = planOutputs([{ flag: "--out", path: options.out }]);
      // The model engine is loaded for synthesis alone: inspect, the common command, never needs it.
      const { synthesizeCapture } = await import("../../engines/model/synthesize-capture.js");
      const { bytes, packets } = synthesizeCapture(options.kind as SynthKind, {
        seed: parseSeed(options.seed ?? "1"),
        ratePps: positiveNumber(options.ratePps ?? options.rate, options.ratePps !== undefined ? "--rate-pps" : "--rate", 10_000),
        durationSeconds: positiveNumber(options.durationSeconds ?? options.duration, options.durationSeconds !== undefined ? "--duration-seconds" : "--duration", 3600),
        count,
        maxPackets: parseMaxPackets(options.maxPackets),
      });
      await writeOutputs([{ output: output!, data: bytes }]);
      process.stdout.write(`${options.out}: ${packets} packets (${options.kind}, seed ${options.seed ?? "1"})\n`);
    });
}
