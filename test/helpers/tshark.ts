import { execFileSync, spawnSync } from "node:child_process";

export const haveTshark = spawnSync("tshark", ["--version"], { stdio: "ignore" }).status === 0;
if (!haveTshark) console.log("skipping tshark cross-checks: tshark is not installed (.ci/run installs it)");

/** Per packet, as the firewall sees segments (no TCP reassembly): epoch time with 9 decimals, SIP method or status code ("" when not SIP). */
export function tsharkPackets(path: string): Array<{ time: string; sip: string }> {
  const output = execFileSync("tshark", ["-r", path, "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields", "-E", "separator=|", "-e", "frame.time_epoch", "-e", "sip.Method", "-e", "sip.Status-Code"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
  return output
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const [time, method, status] = line.split("|");
      return { time: time!, sip: method || status || "" };
    });
}
