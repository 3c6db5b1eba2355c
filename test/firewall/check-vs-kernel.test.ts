import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileFirewall } from "../../src/engines/model/netfilter/interpreter.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import { RulesetError } from "../../src/firewall/ruleset.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

/**
 * `slamlab firewall check` against the real iptables-restore: each case is
 * loaded into a fresh network namespace (a real load, not --test: iptables-nft's
 * --test never asks the kernel) and through the model's parser and compiler.
 * They must agree on what loads. The model may still say it cannot interpret
 * something that loads (RULESET_UNSUPPORTED, RULESET_UNKNOWN_MATCH), never the
 * reverse.
 */
const probe = spawnSync("unshare", ["--net", "iptables-restore", "--version"], { encoding: "utf8" });
const canRun = probe.status === 0;
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!canRun && !required) console.log("skipping the firewall check agreement with iptables-restore: it needs root, unshare and iptables");

const work = scratchDirectory("check-vs-kernel");

const wrap = (rules: string) => `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:USER - [0:0]\n${rules}\nCOMMIT\n`;

/** One rule a case, or several lines where a command needs rules before it. */
const cases = [
  "-A INPUT -p udp --dport 5060 -j REJECT --reject-with bogus",
  // Protocol names come from /etc/protocols (getprotobyname): any name there loads, an unknown one does not.
  "-A INPUT -p ospf -j DROP",
  "-A INPUT -p vrrp -j ACCEPT",
  "-A INPUT -p constructor -j DROP",
  // Header, mark and helper matches: what loads, what does not.
  "-A INPUT -p udp -m icmp --icmp-type 8 -j DROP",
  "-A INPUT -p icmp -m icmp --icmp-type echo-request -j DROP",
  "-A INPUT -m iprange --src-range 10.0.0.9-10.0.0.5 -j DROP",
  "-A INPUT -m iprange -j DROP",
  "-A INPUT -m length --length 200:100 -j DROP",
  "-A INPUT -m length --length 70000 -j DROP",
  "-A INPUT -m length --length :50 -j DROP",
  "-A INPUT -m addrtype --src-type FOO -j DROP",
  "-A INPUT -m addrtype --dst-type local -j DROP",
  "-A INPUT -m pkttype --pkt-type otherhost -j DROP",
  "-A INPUT -m pkttype --pkt-type host -j DROP",
  "-A INPUT -m mark --mark 0x100000000 -j DROP",
  "-A INPUT -m mark ! --mark 0x1/0xff -j DROP",
  "-A INPUT -m connmark --mark 2 -j DROP",
  "-A INPUT -m helper --helper sip -j DROP",
  "-A INPUT -p udp --dport 5060 -j REJECT --reject-with icmp-port-unreachable",
  "-A INPUT -p udp --dport 5060 -j REJECT --reject-with port-unreach",
  "-A INPUT -p udp --dport 5060 -j REJECT --reject-with tcp-reset",
  "-A INPUT -p tcp --dport 5060 -j REJECT --reject-with tcp-reset",
  "-A INPUT ! -p tcp -j REJECT --reject-with tcp-reset",
  "-A INPUT -p tcp --dport 5060 -j REJECT --reject-with tcp-rst",
  "-A INPUT -p udp -j REJECT --reject-with icmp-admin-prohibited",
  "-A INPUT -p udp -j REJECT --reject-with admin-prohib",
  "-A INPUT -p udp -j REJECT --reject-with icmp-host-prohibited",
  "-A INPUT -p udp -j REJECT --reject-with icmp-net-prohibited",
  "-A INPUT -p udp -j REJECT --reject-with icmp-proto-unreachable",
  "-A INPUT -p udp -j REJECT --reject-with echo-reply",
  "-A INPUT -j REJECT",
  "-A INPUT -i abcdefghijklmnop -j DROP",
  "-A INPUT -i abcdefghijklmno -j DROP",
  "-A FORWARD -o abcdefghijklmnopq -j DROP",
  "-A INPUT -i eth+ -j DROP",
  "-A INPUT -o eth0 -j DROP",
  "-A OUTPUT -i eth0 -j DROP",
  "-A USER -o eth0 -j DROP",
  "-A INPUT -j LOG --log-level 9",
  "-A INPUT -j LOG --log-level warning",
  "-A INPUT -j LOG --log-level 4",
  "-A INPUT -j LOG --log-prefix 12345678901234567890123456789",
  "-A INPUT -j NFLOG --nflog-group 70000",
  "-A INPUT -j NFLOG --nflog-group 65535",
  `-A INPUT -m recent --name ${"a".repeat(250)} --set`,
  "-A INPUT -m recent --name SIP --rcheck --seconds 60 --hitcount 20",
  "-A INPUT -m hashlimit --hashlimit-above 5/sec --hashlimit-name x",
  "-A INPUT -m hashlimit --hashlimit-above 5/sec",
  '-A INPUT -p udp -m string --string "REGISTER" --algo bm -j DROP',
  '-A INPUT -p udp -m string --string "REGISTER" --algo zz -j DROP',
  '-A INPUT -p udp -m string --string "REGISTER" -j DROP',
  "-A INPUT -p udp --dport 65536 -j DROP",
  "-A INPUT -p udp --dport 5061:5060 -j DROP",
  "-A INPUT -p udp --dport 5060:5061 -j DROP",
  "-A INPUT -s 1.2.3.4/33 -j DROP",
  "-A INPUT -m limit --limit 0/sec -j DROP",
  "-A INPUT -m limit --limit 1/sec --limit-burst 0 -j DROP",
  "-A INPUT -m limit --limit 10001/sec -j DROP",
  "-A INPUT -m conntrack --ctstate NEW,BOGUS -j DROP",
  "-A INPUT -m state --state NEW -j DROP",
  "-A INPUT -p udp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j DROP",
  "-A INPUT -p udp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j DROP",
  "-A INPUT -p sctp -j DROP",
  "-A INPUT -p 300 -j DROP",
  "-A INPUT -p 132 -j DROP",
  "-A USER -j RETURN",
  "-P INPUT DROP",
  "-P USER DROP",
  "-P INPUT REJECT",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-I INPUT -p udp --dport 5060 -j DROP",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-I INPUT 2 -p udp --dport 5060 -j DROP",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-I INPUT 3 -p udp --dport 5060 -j DROP",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-D INPUT -p tcp --dport 22 -j ACCEPT",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-D INPUT -p tcp --dport 23 -j ACCEPT",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-D INPUT 1",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-D INPUT 2",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-R INPUT 1 -p tcp --dport 2222 -j ACCEPT",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-F INPUT",
  "-A INPUT -p tcp --dport 22 -j ACCEPT\n-F",
  "-A USER -j RETURN\n-X USER",
  "-A INPUT -j USER\n-X USER",
  "-X USER",
  "-X INPUT",
  "-Z INPUT",
  "-N EXTRA\n-A EXTRA -j RETURN\n-A INPUT -j EXTRA",
  // Each family's own matches, and rpfilter's place (raw or mangle PREROUTING only).
  "-A INPUT -m ttl --ttl-lt 300 -j DROP",
  "-A INPUT -m ttl ! --ttl-gt 3 -j DROP",
  "-A INPUT -m ttl ! --ttl-eq 64 -j DROP",
  "-A INPUT -m hl --hl-eq 3 -j DROP",
  "-A INPUT -m rt --rt-type 0 -j DROP",
  "-A INPUT -p icmp -m icmp6 --icmpv6-type 1 -j DROP",
  "-A INPUT -m rpfilter -j DROP",
  // tcpmss, ecn and tcp's --tcp-option (javapipe's anti-DDoS rules): the protocol they need, their ranges.
  "-A INPUT -p tcp -m tcpmss ! --mss 536:65535 -j DROP",
  "-A INPUT -p 6 -m tcpmss --mss 1:500 -j DROP",
  "-A INPUT -p tcp -m tcpmss --mss 536: -j DROP",
  "-A INPUT -p tcp -m tcpmss --mss :536 -j DROP",
  "-A INPUT -p tcp -m tcpmss --mss 600:536 -j DROP",
  "-A INPUT -p tcp -m tcpmss --mss 70000 -j DROP",
  "-A INPUT -p tcp -m tcpmss -j DROP",
  "-A INPUT -m tcpmss --mss 500 -j DROP",
  "-A INPUT -p udp -m tcpmss --mss 500 -j DROP",
  "-A INPUT ! -p tcp -m tcpmss --mss 500 -j DROP",
  "-A INPUT -p tcp -m tcp --tcp-option 0 -j DROP",
  "-A INPUT -p tcp -m tcp --tcp-option 256 -j DROP",
  "-A INPUT -p tcp -m tcp ! --tcp-option 8 -j DROP",
  "-A INPUT -m ecn --ecn-tcp-cwr -j DROP",
  "-A INPUT -p tcp -m ecn ! --ecn-tcp-ece --ecn-tcp-cwr -j DROP",
  "-A INPUT -m ecn ! --ecn-ip-ect 3 -j DROP",
  "-A INPUT -m ecn --ecn-ip-ect 4 -j DROP",
  "-A INPUT -m ecn -j DROP",
  "-A INPUT -p udp -m ecn --ecn-ip-ect 1 --ecn-tcp-ece -j DROP",
  "-A INPUT -p 6 --dport 5060 -j REJECT --reject-with tcp-reset",
  "-A INPUT -m statistic --mode nth --every 3 -j DROP",
  "-A INPUT -m statistic --mode nth --every 3 --packet 3 -j DROP",
  "-A INPUT -m statistic --mode nth --every 3 --packet 2 -j DROP",
  "-A INPUT -m statistic --mode nth ! --every 3 --packet 2 -j DROP",
  "-A INPUT -m statistic --mode random --probability 0.5 -j DROP",
  "-A INPUT -m statistic --mode random --probability 1.5 -j DROP",
  "-A INPUT -m statistic --mode random -j DROP",
  "-A INPUT -m statistic --mode nth -j DROP",
  "-A INPUT -m statistic ! --mode nth --every 2 --packet 0 -j DROP",
  "-A INPUT -m statistic --mode random --probability 0.25 --every 2 -j DROP",
  "-A INPUT -m statistic --mode nth --every 0 --packet 0 -j DROP",
  "-A INPUT -m statistic --probability 0.3 -j DROP",
  "-A INPUT -m statistic --mode sometimes --probability 0.3 -j DROP",
  "-A INPUT -m quota --quota 1000 -j ACCEPT",
  "-A INPUT -m quota ! --quota 1000 -j ACCEPT",
  "-A INPUT -m quota -j ACCEPT",
  "-A INPUT -m quota --quota -5 -j ACCEPT",
  "-A INPUT -m quota --quota 18446744073709551615 -j ACCEPT",
  "-A INPUT -m quota --quota 18446744073709551616 -j ACCEPT",
  // policy (strongSwan's and firewalld's IPsec rules): directions by chain, libxt_policy's elements.
  "-A INPUT -m policy --dir in --pol none -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec -j ACCEPT",
  "-A INPUT -m policy --dir out --pol ipsec -j ACCEPT",
  "-A OUTPUT -m policy --dir in --pol ipsec -j ACCEPT",
  "-A OUTPUT -m policy --dir out --pol ipsec --proto esp -j ACCEPT",
  "-A FORWARD -m policy --dir out --pol none -j ACCEPT",
  "-A FORWARD -m policy --dir in --pol ipsec -j ACCEPT",
  "-A USER -m policy --dir in --pol ipsec -j ACCEPT",
  "-A INPUT -m policy --pol none -j ACCEPT",
  "-A INPUT -m policy --dir in -j ACCEPT",
  "-A INPUT -m policy --dir sideways --pol none -j ACCEPT",
  "-A INPUT -m policy --dir in --dir out --pol ipsec -j ACCEPT",
  "-A INPUT -m policy --dir in --pol none --strict -j ACCEPT",
  "-A INPUT -m policy --dir in --pol none --proto esp -j ACCEPT",
  "-A INPUT -m policy --dir in ! --pol ipsec -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --strict -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --strict --proto esp --mode tunnel --tunnel-src 10.0.0.1 --tunnel-dst 10.0.0.2 --next --proto ah -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --proto esp --next --proto ah -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec ! --reqid 5 ! --spi 0x10 -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --reqid abc -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --mode transport --tunnel-src 10.0.0.1 -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --tunnel-src 10.0.0.1 -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec ! --mode transport --tunnel-src 10.0.0.1 -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --proto udp -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --proto 50 -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --proto esp --proto ah -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --mode foo -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --strict --proto esp --next --proto ah --next --proto esp --next --proto ah --next --proto esp -j ACCEPT",
  "-A INPUT -m policy --dir in --pol ipsec --strict --proto esp --next -j ACCEPT",
  // Kernel targets the model does not run (javapipe's SYNPROXY) and one no kernel here has (xtables-addons' TARPIT).
  "-A INPUT -p tcp -m tcp -m conntrack --ctstate INVALID,UNTRACKED -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss 1460",
  "-A INPUT -p tcp -j TARPIT",
  "-A INPUT -p tcp -j TEE --gateway 10.0.0.1",
  "-A INPUT -m dscp --dscp 64 -j DROP",
  "-A INPUT -m dscp --dscp-class XX -j DROP",
  "-A INPUT -m dscp ! --dscp-class af41 -j DROP",
  "-A INPUT -m tos --tos 0x100 -j DROP",
  "-A INPUT -m tos ! --tos maximize-throughput -j DROP",
];

/** The same for ip6tables-restore: UFW's IPv6 rules (icmp6 with hl, rt) and each family's own matches. */
const cases6 = [
  "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT",
  "-A INPUT -p ipv6-icmp --icmpv6-type neighbor-advertisement -j ACCEPT",
  "-A INPUT -p icmpv6 -m icmp6 --icmpv6-type 1/4 -j DROP",
  "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type any -j DROP",
  "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type mld-listener-query -j DROP",
  "-A INPUT -m icmp6 --icmpv6-type 128 -j DROP",
  "-A INPUT -p tcp -m icmp6 --icmpv6-type 128 -j DROP",
  "-A INPUT -p ipv6-icmp -m icmp6 -j DROP",
  "-A INPUT -m hl ! --hl-lt 5 -j DROP",
  "-A INPUT -m hl -j DROP",
  "-A INPUT -m hl --hl-eq 5 --hl-lt 3 -j DROP",
  "-A INPUT -m hl --hl-gt 300 -j DROP",
  "-A INPUT -m ttl --ttl-eq 3 -j DROP",
  "-A INPUT -m rt --rt-type 0 -j DROP",
  "-A INPUT -m rt ! --rt-segsleft 2:5 --rt-len 24 -j DROP",
  "-A INPUT -m rt -j DROP",
];

/** What the model says: "loads", "refused" (the kernel or iptables would not load it), or "not interpreted". */
function modelSays(text: string, family: 4 | 6 = 4): "loads" | "refused" | "not interpreted" {
  try {
    compileFirewall(parseRuleset(text, "case.rules", undefined, family), { settings: defaultKernelSettings, tables: new Map() });
    return "loads";
  } catch (error) {
    if (!(error instanceof RulesetError)) throw error;
    return ["RULESET_UNSUPPORTED", "RULESET_UNKNOWN_MATCH"].includes(error.code) ? "not interpreted" : "refused";
  }
}

describe.runIf(canRun || required)("firewall check agrees with iptables-restore on what loads", () => {
  it.each(cases.map((rules) => [rules.replace(/\n/g, " ; ").slice(0, 120), rules]))("%s", (_label, rules) => {
    expect(canRun, "SLAMLAB_REQUIRE_DOCKER=1 but iptables-restore cannot run in a network namespace").toBe(true);
    const path = join(work, "case.rules");
    writeFileSync(path, wrap(rules));
    const kernel = spawnSync("unshare", ["--net", "iptables-restore", path], { encoding: "utf8" });
    const model = modelSays(wrap(rules));
    if (kernel.status === 0) expect(model, "the kernel loads it").not.toBe("refused");
    else expect(model, `the kernel refuses it: ${kernel.stderr.trim()}`).toBe("refused");
  });
});

describe.runIf(canRun || required)("firewall check agrees with ip6tables-restore on what loads", () => {
  it.each(cases6.map((rules) => [rules, rules]))("%s", (_label, rules) => {
    expect(canRun, "SLAMLAB_REQUIRE_DOCKER=1 but ip6tables-restore cannot run in a network namespace").toBe(true);
    const path = join(work, "case.v6");
    writeFileSync(path, wrap(rules));
    const kernel = spawnSync("unshare", ["--net", "ip6tables-restore", path], { encoding: "utf8" });
    const model = modelSays(wrap(rules), 6);
    if (kernel.status === 0) expect(model, "the kernel loads it").not.toBe("refused");
    else expect(model, `the kernel refuses it: ${kernel.stderr.trim()}`).toBe("refused");
  });
});
