import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dockerRuntime } from "../../src/engines/docker/docker-runtime.js";
import { runCli } from "../helpers/run-cli.js";
import { countersNamed, judgeRouteInKernel, judgeRouteInModel, kernelOracleHere } from "../helpers/route-oracle.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const work = scratchDirectory("firewall-import");
const file = (name: string, content: string) => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};

const requireDocker = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const docker = await dockerRuntime().then(
  () => true,
  (error: Error) => {
    if (!requireDocker) console.log(`skipping the script half of firewall import: ${error.message.split("\n")[0]}`);
    return false;
  },
);

describe("firewall import: what the admin has, in the form slamlab reads", () => {
  it("takes an iptables-save file as it is, and iptables -S output as the filter table", async () => {
    const saved = file("saved.rules", "*filter\n:INPUT DROP [0:0]\n-A INPUT -p udp -m udp --dport 5060 -j ACCEPT\nCOMMIT\n");
    const copied = await runCli("firewall", "import", saved, "--out", join(work, "copied.v4"));
    expect(copied.code, copied.stderr).toBe(0);
    expect(readFileSync(join(work, "copied.v4"), "utf8")).toBe(readFileSync(saved, "utf8"));
    const listing = file("listing.txt", "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N SIP\n-A INPUT -p udp -m udp --dport 5060 -j SIP\n-A SIP -s 198.18.0.0/15 -j ACCEPT\n");
    const listed = await runCli("firewall", "import", listing, "--out", join(work, "listed.v4"));
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/\(iptables -S output\) -> .*listed\.v4: rules per table: filter 2/);
    expect(readFileSync(join(work, "listed.v4"), "utf8")).toBe(
      "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:SIP - [0:0]\n-A INPUT -p udp -m udp --dport 5060 -j SIP\n-A SIP -s 198.18.0.0/15 -j ACCEPT\nCOMMIT\n",
    );
  });

  it("refuses bad input with the file and line, and leaves nothing behind", async () => {
    const broken = file("broken.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m recent --name X --bogus -j DROP\nCOMMIT\n");
    const out = join(work, "never.v4");
    const result = await runCli("firewall", "import", broken, "--out", out);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/broken\.rules: line 3: unknown option --bogus/);
    expect(existsSync(out)).toBe(false);
    const onItself = await runCli("firewall", "import", broken, "--out", broken);
    expect(onItself.code).toBe(2);
    expect(onItself.stderr).toMatch(/is also an input of this command/);
    const envOnSave = await runCli("firewall", "import", broken, "--out", out, "--env", "A=1");
    expect(envOnSave.code).toBe(2);
    expect(envOnSave.stderr).toMatch(/--env is for scripts/);
  });

  it("without Docker, says how to make the iptables-save form by hand (the script never runs on this host)", async () => {
    const script = file("nodocker.sh", "iptables -A INPUT -j ACCEPT\n");
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${join(work, "no-such-docker.sock")}`;
    try {
      const result = await runCli("firewall", "import", script, "--out", join(work, "nodocker.v4"));
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/only inside a throwaway lab container, never on this host.*iptables-save > rules\.v4/s);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});

describe.runIf(docker)("firewall import of a script, in a lab container", () => {
  it(
    "runs a script with variables, chains, ipset and the raw table, and the kernel and the model judge its rules alike",
    async () => {
      // /tmp exists in the container too: the marker must land there, not here.
      const marker = `/tmp/slamlab-import-marker-${process.pid}-${Date.now()}`;
      const script = file(
        "firewall.sh",
        [
          "#!/bin/bash",
          "# As admins write them: variables, a chain, the reference post's recent counting, a blocklist set",
          "IPT=/sbin/iptables",
          "PBX=198.51.100.10",
          "OFFICE=198.18.10.0/24",
          "modprobe xt_recent",
          "$IPT -F",
          "$IPT -N SIP-REG",
          "$IPT -A INPUT -s $OFFICE -j ACCEPT",
          '$IPT -A INPUT -d $PBX -p udp --dport 5060 -m string --string "REGISTER sip:" --algo bm -j SIP-REG',
          "$IPT -A SIP-REG -m recent --set --name SIP",
          "$IPT -A SIP-REG -m recent --update --seconds 60 --hitcount 5 --name SIP -j DROP",
          "$IPT -t raw -A PREROUTING -s 198.18.66.0/24 -j DROP",
          "ipset create blocklist hash:net",
          "ipset add blocklist 198.18.200.0/24",
          'iptables -A INPUT -m comment --comment "links here: $(ip -o link | wc -l)" -j RETURN',
          // The same limit for IPv6, per /64: kept beside the IPv4 rules, not judged.
          'ip6tables -A INPUT -p udp --dport 5060 -m string --string "REGISTER sip:" --algo bm -m recent --set --name SIP6 --mask ffff:ffff:ffff:ffff::',
          'ip6tables -A INPUT -p udp --dport 5060 -m string --string "REGISTER sip:" --algo bm -m recent --update --seconds 60 --hitcount 5 --name SIP6 --mask ffff:ffff:ffff:ffff:: -j DROP',
          `touch ${marker}`,
          // Saved for the next boot, as scripts end: the container has no /etc/iptables, and the script exits 1 with this.
          "iptables-save > /etc/iptables/rules.v4",
          "",
        ].join("\n"),
      );
      const out = join(work, "imported.v4");
      const result = await runCli("firewall", "import", script, "--out", out);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/line 6: `modprobe xt_recent` failed in the lab container .* ignored/);
      expect(result.stderr).toMatch(/line 20: `iptables-save > \/etc\/iptables\/rules\.v4` failed in the lab container .* ignored/);
      const rules = readFileSync(out, "utf8");
      expect(rules).toContain("-A SIP-REG -m recent --update --seconds 60 --hitcount 5 --name SIP --mask 255.255.255.255 --rsource -j DROP");
      expect(rules).toContain("*raw");
      // No network: the container has loopback only. Nothing of this host: the marker was made in the container.
      expect(rules).toContain('--comment "links here: 1"');
      expect(existsSync(marker)).toBe(false);
      expect(readFileSync(join(work, "imported.ipset"), "utf8")).toMatch(/^create blocklist hash:net .*\nadd blocklist 198\.18\.200\.0\/24\n$/);
      expect(result.stderr).toMatch(/also loads 2 ip6tables rules \(IPv6\), kept in .*imported\.v6 as ip6tables-save wrote them; give that file as a scenario's firewall\.ruleset6/);
      expect(readFileSync(join(work, "imported.v6"), "utf8")).toMatch(/^-A INPUT -p udp -m udp --dport 5060 .*--name SIP6 --mask ffff:ffff:ffff:ffff:: --rsource -j DROP$/m);
      // The imported rules round-trip: the kernel and the model judge the same datagrams alike.
      const sends = [
        ...Array.from({ length: 7 }, (_, index) => ({ src: "198.18.70.7", sport: 5060 + index, at: index * 0.05 })),
        { src: "198.18.10.5", at: 0.4 },
        { src: "198.18.66.9", at: 0.45 },
      ];
      const model = judgeRouteInModel(rules, sends);
      expect(model.delivered).toEqual([true, true, true, true, false, false, false, true, false]);
      if (kernelOracleHere) {
        const kernel = judgeRouteInKernel(rules, sends);
        expect(countersNamed(model, Object.keys(kernel.counted))).toEqual(kernel);
      }
    },
    5 * 60_000,
  );

  it(
    "names every command of a failing script with its line, and writes nothing",
    async () => {
      const script = file("bad.sh", ["IPT=iptables", "$IPT -A INPUT -p udp --dport 5060 -m recent --name X --bogus -j DROP", "$IPT -A INPUT -p udp --dport 5060 -j ACCEPT", "iptables-restore < /etc/iptables/rules.v4", ""].join("\n"));
      const out = join(work, "bad.v4");
      const result = await runCli("firewall", "import", script, "--out", out);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/bad\.sh: 2 commands of the script failed/);
      expect(result.stderr).toMatch(/bad\.sh: line 2: `\$IPT -A INPUT .*--bogus -j DROP` failed/);
      expect(result.stderr).toMatch(/bad\.sh: line 4: `iptables-restore < \/etc\/iptables\/rules\.v4` failed/);
      expect(result.stderr).toMatch(/unknown option "--bogus"/);
      expect(existsSync(out)).toBe(false);
    },
    5 * 60_000,
  );
});
