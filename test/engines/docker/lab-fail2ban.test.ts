import { spawnSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { actionOverride, bansInKernel, bansInLog, failedRequestLines, jailLocal } from "../../../src/engines/docker/lab-fail2ban.js";
import { createIax2Pbx } from "../../../src/engines/model/iax2-pbx.js";
import { decodeFullFrame, elementString, encodeFullFrame, FRAME_TYPE_IAX, IaxCommand, IaxIe, stringElement, type InformationElement } from "../../../src/iax2/iax2-frame.js";
import { iaxMd5Result } from "../../../src/traffic/iax2-call.js";
import { labImageTag } from "../../../src/engines/docker/lab-image.js";
import { createAsteriskPbx } from "../../../src/engines/model/asterisk-pbx.js";
import { stockAsteriskJail } from "../../../src/scenario/with-fail2ban.js";
import { answerChallenge, formatCredentials, parseChallenge } from "../../../src/sip/digest.js";
import { formatRequest, parseSip } from "../../../src/sip/sip-message.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";

const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const fail2ban = spawnSync("fail2ban-client", ["--version"], { encoding: "utf8" }).status === 0;
if (!fail2ban && !required) console.log("skipping the lab's fail2ban configuration against fail2ban's own reader: no fail2ban-client here (apt-get install fail2ban)");

/** The configuration fail2ban would run with the lab's files beside Debian's own, as `fail2ban-client -d` dumps it. */
function dumpedConfig(jail = stockAsteriskJail): string {
  const directory = join(scratchDirectory("lab-fail2ban"), "fail2ban");
  cpSync("/etc/fail2ban", directory, { recursive: true });
  writeFileSync(join(directory, "jail.d", "slamlab.local"), jailLocal(jail));
  const override = actionOverride(jail);
  writeFileSync(join(directory, "action.d", override.path.split("/").at(-1)!), override.content);
  const dumped = spawnSync("fail2ban-client", ["-c", directory, "-d"], { encoding: "utf8" });
  expect(dumped.status, dumped.stderr).toBe(0);
  return dumped.stdout;
}

describe("fail2ban in the docker lab", () => {
  it.runIf(fail2ban || required)("is Debian's stock asterisk jail alone, with the scenario's limits, banning through two iptables-ipset actions that only fill their sets", () => {
    const config = dumpedConfig({ ...stockAsteriskJail, maxretry: 7, findtimeSeconds: 300, bantimeSeconds: 900 });
    expect(config.match(/^\['add', '([^']+)'/gm)).toEqual(["['add', 'asterisk'"]);
    expect(config).toContain("['set', 'asterisk', 'maxretry', 7]");
    expect(config).toContain("['set', 'asterisk', 'findtime', '300']");
    expect(config).toContain("['set', 'asterisk', 'bantime', '900']");
    // The stock filter: what Asterisk's PJSIP logs about a failed request.
    expect(config).toContain("No matching endpoint found");
    for (const protocol of ["tcp", "udp"]) {
      const action = new RegExp(`\\['multi-set', 'asterisk', 'action', 'iptables-ipset-${protocol}', (.*)\\]$`, "m").exec(config)?.[1] ?? "";
      expect(action).toContain(`['name', 'asterisk-${protocol}']`);
      expect(action).toContain(`['protocol', '${protocol}']`);
      expect(action).toContain("['actionban', 'ipset -exist add <ipmset> <ip> timeout 0']");
      // Its REJECT rule is the lab's (loaded with the scenario's rules, logging its verdicts), never a second copy inserted above it.
      expect(action).not.toMatch(/iptables[^']*-I /);
      expect(action).toContain("['actioncheck', '']");
    }
  });

  it.runIf(fail2ban || required)("beside an nftables firewall bans through fail2ban's nftables action, which only adds its table, its set and elements: the lab loads its reject rules", () => {
    const config = dumpedConfig({ ...stockAsteriskJail, banAction: "nftables" });
    for (const protocol of ["tcp", "udp"]) {
      const action = new RegExp(`\\['multi-set', 'asterisk', 'action', 'nftables-${protocol}', (.*)\\]$`, "m").exec(config)?.[1] ?? "";
      expect(action).toContain(`['name', 'asterisk-${protocol}']`);
      expect(action).toContain("['actionban', 'nft add element inet f2b-table <addr_set> \\\\{ <ip> \\\\}']");
      expect(action).toContain("['addr_set', 'addr-set-<name>']");
      for (const step of ["actionstart", "actionflush", "actionstop"]) {
        const commands = new RegExp(`\\['${step}', '([^']*)'\\]`).exec(action)?.[1] ?? "";
        expect(commands, step).not.toMatch(/add rule|add chain|delete/);
      }
    }
  });

  it.runIf(fail2ban || required)("takes another name when the scenario's own sets hold the stock ones: the same jail, its sets f2b-NAME-tcp and -udp", () => {
    const config = dumpedConfig({ ...stockAsteriskJail, set: "f2b-asterisk-2" });
    expect(config.match(/^\['add', '([^']+)'/gm)).toEqual(["['add', 'asterisk-2'"]);
    expect(config).toContain("['name', 'asterisk-2-udp']");
    expect(config).toContain("['name', 'asterisk-2-tcp']");
    expect(config).toContain("['set', 'asterisk-2', 'maxretry', 10]");
  });

  it("reads fail2ban's bans from its log, timed from the run's start, and counts Asterisk's failed-request lines", () => {
    const log = [
      "2026-12-05 20:48:56,289 fail2ban.filter         [131]: INFO    [asterisk] Found 198.19.40.5 - 2026-12-05 20:48:56",
      "2026-12-05 20:48:56,459 fail2ban.actions        [131]: NOTICE  [asterisk] Ban 198.19.40.5",
      "2026-12-05 20:48:56,471 fail2ban.actions        [131]: NOTICE  [asterisk] Ban 198.19.40.4",
      "2026-12-05 20:58:56,471 fail2ban.actions        [131]: NOTICE  [asterisk] Unban 198.19.40.4",
    ].join("\n");
    const t0 = Date.parse("2026-12-05T20:48:50.000Z");
    expect(bansInLog(log, t0)).toEqual([
      { address: "198.19.40.5", atUs: 6_459_000 },
      { address: "198.19.40.4", atUs: 6_471_000 },
    ]);
    const messages = [
      "[Dec  5 20:48:55] NOTICE[2741] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '\"104\" <sip:104@198.51.100.10>' failed for '198.19.40.2:5060' (callid: 1234) - No matching endpoint found",
      "[Dec  5 20:48:55] NOTICE[2741] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:200@198.51.100.10>' failed for '198.19.40.3:41000' (callid: 99) - Failed to authenticate",
      "[Dec  5 21:24:33] NOTICE[53] res_pjsip_session.c:  250: Call (UDP:198.18.66.9:5060) to extension '00442079460000' rejected because extension not found in context 'default'.",
      "[Dec  5 20:48:50] NOTICE[2700] loader.c: 381 modules loaded",
      // chan_iax2 with authdebug, as real Asterisk 22 wrote them in the lab.
      "[Dec  6 00:14:23] NOTICE[79] chan_iax2.c: Host 198.18.66.6 failed MD5 authentication for '230' (0afd6ee314741d3ab822e28b9ba2cfb9 != 30711ad946b93ef32d6311b6fab226b9)",
      "[Dec  6 00:14:23] NOTICE[79] chan_iax2.c: No registration for peer '999' (from 198.18.66.6)",
    ].join("\n");
    expect(failedRequestLines(messages)).toBe(5);
  });

  it("places a ban in the kernel between the last packet from the address let through and the first its jail rule rejected", () => {
    const jail = { chain: "INPUT", index: 1, target: "REJECT", comment: "fail2ban: banned by the asterisk jail" };
    const policy = { chain: "INPUT", index: 0, target: "ACCEPT" };
    const packet = (atUs: number, verdict: "delivered" | "dropped", srcAddr = "198.19.40.5") => ({ atUs, direction: "to-pbx" as const, srcAddr, verdict, rule: verdict === "dropped" ? jail : policy });
    const verdicts = [packet(1_000_000, "delivered"), packet(2_000_000, "delivered"), packet(2_010_000, "delivered", "198.19.40.6"), packet(2_100_000, "dropped"), packet(2_200_000, "dropped")];
    // Logged before the last packet it let through: the set took it after that packet.
    expect(bansInKernel([{ address: "198.19.40.5", atUs: 1_990_000 }], verdicts)).toEqual([{ address: "198.19.40.5", atUs: 2_000_001 }]);
    // Logged between the two: as logged.
    expect(bansInKernel([{ address: "198.19.40.5", atUs: 2_050_000 }], verdicts)).toEqual([{ address: "198.19.40.5", atUs: 2_050_000 }]);
    // No packet after it: as logged.
    expect(bansInKernel([{ address: "198.19.40.6", atUs: 2_050_000 }], verdicts)).toEqual([{ address: "198.19.40.6", atUs: 2_050_000 }]);
  });
});

const labImage = labImageTag();
const imageBuilt = spawnSync("docker", ["image", "inspect", labImage], { encoding: "utf8" }).status === 0;
if (!imageBuilt && !required) console.log(`skipping the lab fail2ban's filter on the model's log lines: no ${labImage} here (slamlab images build)`);

describe.runIf(imageBuilt || required)("the lab's fail2ban (Debian sid's 1.1.1) on the model's Asterisk log", () => {
  it("matches every line the model's PBX writes, the dialplan's refusal of a call included (Debian 12's fail2ban 1.0.2 filter wants \"Call from '...'\" and misses it)", () => {
    const lines: string[] = [];
    const pbx = createAsteriskPbx({ address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [{ users: "201-201", password: "pw-201" }] }, (line) => lines.push(`[Dec  5 21:24:33] ${line.text}`));
    const invite = (extra: Array<[string, string]> = []) => ({
      src: "198.18.66.9",
      sport: 5060,
      dst: "198.51.100.10",
      dport: 5060,
      payload: formatRequest("INVITE", "sip:0090123456@198.51.100.10", [
        ["Via", `SIP/2.0/UDP 198.18.66.9:5060;branch=z9hG4bK-${extra.length}`],
        ["From", '"201" <sip:201@198.51.100.10>;tag=1'],
        ["To", "<sip:0090123456@198.51.100.10>"],
        ["Call-ID", "call-1"],
        ["CSeq", `${extra.length + 1} INVITE`],
        ...extra,
      ]),
    });
    const challenge = parseChallenge(parseSip(pbx.receive(invite(), 1_000_000)[0]!.datagram.payload)!.header("www-authenticate")!)!;
    const answer = (password: string) => formatCredentials(answerChallenge(challenge, { username: "201", password, method: "INVITE", uri: "sip:0090123456@198.51.100.10", cnonce: "c", nc: 1 }));
    pbx.receive(invite([["Authorization", answer("wrong")]]), 2_000_000);
    pbx.receive(invite([["Authorization", answer("pw-201")], ["X-Try", "2"]]), 3_000_000);
    expect(lines).toHaveLength(2);
    const directory = scratchDirectory("lab-fail2ban-regex");
    writeFileSync(join(directory, "messages"), `${lines.join("\n")}\n`);
    const ran = spawnSync("docker", ["run", "--rm", "--network", "none", "-v", `${directory}:/check:ro`, labImage, "fail2ban-regex", "-o", "ip", "/check/messages", "/etc/fail2ban/filter.d/asterisk.conf"], { encoding: "utf8" });
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout.trim().split("\n")).toEqual(["198.18.66.9", "198.18.66.9"]);
  });

  it("matches the lines the model's chan_iax2 writes for a wrong secret and an unknown peer", () => {
    const lines: string[] = [];
    const pbx = createIax2Pbx({ address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [{ users: "201-201", password: "pw-201" }] }, 4569, (line) => lines.push(`[Dec  6 00:14:23] ${line.text}`));
    const frame = (peer: string, call: number, elements: InformationElement[], destination = 0, outSeq = 0) => ({
      src: "198.18.66.6",
      sport: 4569,
      dst: "198.51.100.10",
      dport: 4569,
      payload: encodeFullFrame({ sourceCall: call, destinationCall: destination, retransmitted: false, timestampMs: 3, outSeq, inSeq: outSeq, frameType: FRAME_TYPE_IAX, subclass: IaxCommand.REGREQ, elements: [stringElement(IaxIe.USERNAME, peer), ...elements] }),
    });
    for (const [peer, call] of [["201", 2], ["999", 3]] as const) {
      const token = elementString(decodeFullFrame(pbx.receive(frame(peer, call, [{ type: IaxIe.CALLTOKEN, data: new Uint8Array(0) }]), 1_000_000)[0]!.datagram.payload)!, IaxIe.CALLTOKEN)!;
      const challenge = decodeFullFrame(pbx.receive(frame(peer, call, [stringElement(IaxIe.CALLTOKEN, token)]), 1_001_000)[0]!.datagram.payload)!;
      pbx.receive(frame(peer, call, [iaxMd5Result(elementString(challenge, IaxIe.CHALLENGE)!, "guess")], challenge.sourceCall, 1), 1_002_000);
    }
    expect(lines).toHaveLength(2);
    const directory = scratchDirectory("lab-fail2ban-regex-iax2");
    writeFileSync(join(directory, "messages"), `${lines.join("\n")}\n`);
    const ran = spawnSync("docker", ["run", "--rm", "--network", "none", "-v", `${directory}:/check:ro`, labImage, "fail2ban-regex", "-o", "ip", "/check/messages", "/etc/fail2ban/filter.d/asterisk.conf"], { encoding: "utf8" });
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout.trim().split("\n")).toEqual(["198.18.66.6", "198.18.66.6"]);
  });
});
