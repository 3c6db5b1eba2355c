import type { Command } from "commander";
import { inspectCapture } from "../../capture/inspect-capture.js";
import { firstDrops } from "../../engines/model/judge-requests.js";
import { synthesizeCapture, synthKinds, type SynthKind } from "../../engines/model/synthesize-capture.js";
import { defaultPolicy } from "../../firewall/policy.js";
import { generateRuleset } from "../../firewall/generate-ruleset.js";
import { planOutputs, writeOutputs } from "../../report/output-files.js";
import { renderInspection } from "../../report/render-inspection.js";
import { CommandLineError } from "../exit-codes.js";
import { parseMaxPackets, parseSeed } from "../parse-options.js";

interface SynthOptions {
  kind: string;
  out: string;
  seed?: string;
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
    .description("summarise a pcap/pcapng: duration, SIP methods and responses, sources by REGISTER rate, User-Agents, likely slammers")
    .argument("<file>", "pcap or pcapng capture")
    .option("--allow-truncated", "read the intact packets of a capture that ends mid-packet")
    .addHelpText("after", "\nExample: slamlab capture inspect attack.pcap")
    .action(async (file: string, options: { allowTruncated?: boolean }) => {
      const summary = await inspectCapture(file, { allowTruncated: options.allowTruncated === true });
      // The default policy judges every IPv4 request with the capture's own timing, as if each server were the PBX.
      const drops = new Map<string, { atNs: bigint; index: number }>();
      for (const server of summary.servers.filter((address) => !address.includes(":"))) {
        const toServer = summary.sipRequests.filter((request) => request.dst === server && request.ip !== null);
        const rules = generateRuleset(defaultPolicy, { pbxAddress: server });
        for (const [source, drop] of firstDrops(rules, server, toServer.map((request) => ({ timestampNs: request.timestampNs, src: request.src, ip: request.ip! })))) {
          const known = drops.get(source);
          if (!known || drop.atNs < known.atNs) drops.set(source, drop);
        }
      }
      process.stdout.write(renderInspection(summary, drops));
    });
  capture
    .command("synth")
    .description("write a capture with the packet shapes of a tool: svwar, svcrack, register-flood, nat-office")
    .requiredOption("--kind <kind>", synthKinds.join(" | "))
    .requiredOption("--out <file>", "pcap file to write")
    .option("--seed <n>", "seed (same seed, same bytes)", "1")
    .option("--rate <pps>", "requests per second per attacking address")
    .option("--duration <seconds>", "seconds of attack")
    .option("--count <n>", "addresses (register-flood) or phones (nat-office)")
    .option("--max-packets <n>", "refuse captures estimated over this many packets (default 5,000,000)")
    .addHelpText("after", "\nExample: slamlab capture synth --kind svcrack --out svcrack.pcap --seed 2")
    .action(async (options: SynthOptions) => {
      if (!(synthKinds as readonly string[]).includes(options.kind)) throw new CommandLineError(`--kind ${options.kind}: choose one of ${synthKinds.join(", ")}`);
      const count = positiveNumber(options.count, "--count", 10_000);
      if (count !== undefined && !Number.isInteger(count)) throw new CommandLineError(`--count ${options.count}: expected a whole number`);
      const [output] = planOutputs([{ flag: "--out", path: options.out }]);
      const { bytes, packets } = synthesizeCapture(options.kind as SynthKind, {
        seed: parseSeed(options.seed ?? "1"),
        ratePps: positiveNumber(options.rate, "--rate", 10_000),
        durationSeconds: positiveNumber(options.duration, "--duration", 3600),
        count,
        maxPackets: parseMaxPackets(options.maxPackets),
      });
      await writeOutputs([{ output: output!, data: bytes }]);
      process.stdout.write(`${options.out}: ${packets} packets (${options.kind}, seed ${options.seed ?? "1"})\n`);
    });
}
