import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { generateNftRuleset } from "../../src/firewall/generate-nft.js";
import { generateRuleset } from "../../src/firewall/generate-ruleset.js";
import { policySchema } from "../../src/firewall/policy.js";
import { encodeFullFrame, FRAME_TYPE_IAX, IaxCommand, IaxIe, stringElement } from "../../src/iax2/iax2-frame.js";
import type { OracleSend } from "../helpers/kernel-oracle.js";
import { judgeRouteInKernel, judgeRouteInModel, kernelOracleHere } from "../helpers/route-oracle.js";

/**
 * A policy with `iax2`: IAX2 REGREQs count with SIP's REGISTERs per source,
 * in both the iptables and the nftables form; the model and the kernel
 * judge the same frames alike.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const nftHere = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0;

const frame = (subclass: number, call: number) =>
  Buffer.from(encodeFullFrame({ sourceCall: call, destinationCall: subclass === IaxCommand.ACK ? 7000 + call : 0, retransmitted: false, timestampMs: 3, outSeq: 0, inSeq: 1, frameType: FRAME_TYPE_IAX, subclass, elements: subclass === IaxCommand.REGREQ ? [stringElement(IaxIe.USERNAME, "230")] : [] })).toString("latin1");
const iax = (src: string, subclass: number, call: number, at: number): OracleSend => ({ src, sport: 4569, dport: 4569, at, payload: frame(subclass, call) });

const guesser = Array.from({ length: 14 }, (_, index) => [iax("198.18.66.6", IaxCommand.REGREQ, index + 2, index * 0.03), iax("198.18.66.6", IaxCommand.ACK, index + 2, index * 0.03 + 0.01)]).flat();
const office = [0, 1, 2].map((index) => iax("198.18.10.1", IaxCommand.REGREQ, 2, 0.005 + index * 0.1));
const sipAfterBlock: OracleSend = { src: "198.18.66.6", at: 0.6, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n" };
const sends = [...guesser, ...office, sipAfterBlock].sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
// The 10th REGREQ is over 10 within 60 s: it and everything after from that address (ACKs, SIP) are dropped; the office's three are counted and pass.
const delivered = sends.map((send) => send.src !== "198.18.66.6" || (send !== sipAfterBlock && Math.floor(guesser.indexOf(send) / 2) < 9));

const policy = policySchema.parse({ iax2: {}, matcher: { kind: "recent", hits: 10, seconds: 60, name: "SIP" } });
const forms = { iptables: generateRuleset(policy, { pbxAddress: "198.51.100.10" }), nft: generateNftRuleset(policy, { pbxAddress: "198.51.100.10" }) };

describe("a policy counting IAX2 registrations with SIP's", () => {
  it("writes the IAX2 hook and a u32 (nft: masked raw payload) count of REGREQs", () => {
    expect(forms.iptables).toContain('-p udp -m udp --dport 4569 -m u32 --u32 0>>22&0x3C@8>>31=1&&0>>22&0x3C@16&0xFFFF=0x60D -m comment --comment "count IAX2 REGREQ');
    expect(forms.nft).toContain('udp dport 4569 @th,64,8 & 0x80 == 0x80 @th,144,16 0x60d jump slam_count comment "count IAX2 REGREQ"');
  });

  for (const [form, text] of Object.entries(forms)) {
    it(`model (${form}): the guesser is blocked at its 10th REGREQ, its ACKs and SIP after it too; an IAX2 office's registration passes`, () => {
      expect(judgeRouteInModel(text, sends).delivered).toEqual(delivered);
    });
    it.runIf(form === "nft" ? nftHere || required : kernelOracleHere || required)(`kernel (${form}): the same`, () => {
      expect(judgeRouteInKernel(text, sends, [], undefined, true).delivered).toEqual(delivered);
    });
  }

  it.runIf(nftHere || required)("nft -f loads the nft form and nft list ruleset gives back the same text", () => {
    const ran = spawnSync("unshare", ["--net", "bash", "-c", "nft -f - && nft list ruleset"], { input: forms.nft, encoding: "utf8" });
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toBe(forms.nft);
  });
});
