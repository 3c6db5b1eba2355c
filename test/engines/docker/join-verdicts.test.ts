import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../../../src/capture/concat-bytes.js";
import { LINKTYPE_NFLOG } from "../../../src/capture/link-types.js";
import { pcapFile } from "../../../src/capture/pcap-writer.js";
import { joinVerdicts } from "../../../src/engines/docker/join-verdicts.js";
import type { SendRecord } from "../../../src/engines/docker/runner-spec.js";
import { parseRuleset } from "../../../src/firewall/parse-ruleset.js";
import { parseIpv4 } from "../../../src/net/address.js";
import { encodeIpv4Udp } from "../../../src/net/ipv4.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";

/**
 * The lab's verdict log read back: NFLOG records as the kernel writes them
 * (prefix and packet TLVs), joined to what the traffic sources sent. A packet
 * logged by two stages of its way is one verdict, its last; the same bytes
 * sent again (a retransmission, IP ID 0 as an unconnected socket's datagrams
 * carry) are a verdict of their own.
 */
const work = scratchDirectory("join-verdicts");
const PBX = "198.51.100.10";
const PHONE = "198.18.10.5";
const REGISTER = new TextEncoder().encode("REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n");
const hash = createHash("sha1").update(REGISTER).digest("hex").slice(0, 16);

function tlv(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array((4 + value.length + 3) & ~3);
  out[0] = (4 + value.length) & 0xff;
  out[1] = (4 + value.length) >> 8;
  out[2] = type;
  out.set(value, 4);
  return out;
}

/** One NFLOG record of the phone's REGISTER, logged with `prefix`. */
function record(prefix: string): Uint8Array {
  const packet = encodeIpv4Udp({ src: parseIpv4(PHONE), dst: parseIpv4(PBX), sport: 5060, dport: 5060, payload: REGISTER, ttl: 64, identification: 0 });
  return concatBytes([Uint8Array.of(2, 0, 0xfd, 0xe8), tlv(10, new TextEncoder().encode(`${prefix}\0`)), tlv(9, packet)]);
}

const send = (sentUs: number): SendRecord => ({ source: "phone", agent: "200", scheduledUs: sentUs, aimedUs: sentUs, sentUs, src: PHONE, sport: 5060, dst: PBX, dport: 5060, hash, callId: null, paced: true });

async function joinLog(prefixes: readonly string[], sends: number, ruleset: string | null, recordLimit?: number) {
  const log = join(work, `log-${prefixes.join("-").replace(/[^a-z0-9]/gi, "")}.pcap`);
  writeFileSync(log, pcapFile(LINKTYPE_NFLOG, prefixes.map((prefix, index) => ({ timestampNs: BigInt(1_700_000_000 + index) * 1_000_000_000n, data: record(prefix) }))));
  const joined = await joinVerdicts({
    verdictLog: log,
    sends: Array.from({ length: sends }, (_, index) => send(index * 500_000)),
    ruleset: ruleset === null ? null : parseRuleset(ruleset, "test.rules"),
    pbxAddress: PBX,
    t0EpochMs: 1_700_000_000_000,
    keepPackets: false,
    toolAgents: new Map(),
    ...(recordLimit === undefined ? {} : { recordLimit }),
  });
  return joined.verdicts.map((verdict) => `${verdict.verdict} ${verdict.rule.chain}:${verdict.rule.index}`);
}

const IPTABLES = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p udp -j ACCEPT\nCOMMIT\n*security\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 198.18.10.5 -j DROP\nCOMMIT\n";

describe("the lab's verdict log, joined", () => {
  it("iptables: the filter's accept and the security table's drop of one packet are one verdict, the drop", async () => {
    expect(await joinLog(["v:INPUT:1", "v:security:INPUT:1"], 1, IPTABLES)).toEqual(["dropped security:INPUT:1"]);
  });

  it("iptables: the same bytes accepted twice by the filter are two packets (a retransmission)", async () => {
    expect(await joinLog(["v:INPUT:1", "v:INPUT:1"], 2, IPTABLES)).toEqual(["delivered INPUT:1", "delivered INPUT:1"]);
  });

  it("nft: a packet's records through the first chain and two base chains are one verdict, the last", async () => {
    expect(await joinLog(["v:(no base chain):0:ACCEPT", "v:ip guard input:0:ACCEPT", "v:inet filter input:2:DROP"], 1, null)).toEqual(["dropped inet filter input:2"]);
  });

  it("nft: a retransmission starts again at the first record, and is a verdict of its own", async () => {
    expect(await joinLog(["v:(no base chain):0:ACCEPT", "v:inet filter input:0:ACCEPT", "v:(no base chain):0:ACCEPT", "v:inet filter input:1:DROP"], 2, null)).toEqual([
      "delivered inet filter input:0",
      "dropped inet filter input:1",
    ]);
  });

  it("reads only the run's records: those the kernel had logged when the run ended, the log's first ones", async () => {
    const log = ["v:(no base chain):0:ACCEPT", "v:inet filter input:0:ACCEPT", "v:(no base chain):0:ACCEPT", "v:inet filter input:1:DROP"];
    expect(await joinLog(log, 2, null, 2)).toEqual(["delivered inet filter input:0"]);
  });
});
