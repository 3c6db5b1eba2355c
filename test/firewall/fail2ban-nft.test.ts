import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { judgeRouteInKernel, judgeRouteInModel, kernelOracleHere } from "../helpers/route-oracle.js";

/**
 * fail2ban's nftables action as fail2ban itself runs it: a fail2ban-server
 * in a throwaway network namespace with the asterisk jail on
 * banaction = nftables-multiport bans an address, and the table its action
 * made (read back with nft list ruleset) is judged by the model and by the
 * kernel. Needs root, unshare, nft and fail2ban (CI installs them).
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const here = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0 && spawnSync("fail2ban-server", ["--version"]).status === 0;
if (!here && !required) console.log("skipping fail2ban's nftables action: it needs root, unshare, nft and fail2ban (apt-get install nftables fail2ban)");

describe.runIf(here || required)("fail2ban's nftables action, loaded through the real nft", () => {
  const made = spawnSync("unshare", ["--net", "bash", "test/helpers/fail2ban-nft-ban.sh"], { encoding: "utf8", timeout: 60_000 });

  it("bans with a set of addresses and a reject rule per protocol", () => {
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/table inet f2b-table \{/);
    expect(made.stdout).toMatch(/udp dport \{ 5060, 5061 \} ip saddr @addr-set-asterisk-udp reject/);
  });

  const sends = [
    { src: "198.18.66.6", at: 0, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n" },
    { src: "198.18.66.7", at: 0.05, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 2 REGISTER\r\n\r\n" },
    { src: "198.18.66.6", at: 0.1, dport: 5070, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 3 REGISTER\r\n\r\n" },
    { src: "198.18.66.6", at: 0.15, dport: 5061, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 4 REGISTER\r\n\r\n" },
  ];
  const delivered = [false, true, true, false];

  it("model: the banned address's SIP is rejected, on both ports; others and other ports pass", () => {
    expect(judgeRouteInModel(made.stdout, sends, [5061, 5070]).delivered).toEqual(delivered);
  });

  it("kernel: the same", () => {
    expect(judgeRouteInKernel(made.stdout, sends, [5061, 5070], undefined, true).delivered).toEqual(delivered);
  });
});
