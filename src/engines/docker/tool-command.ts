import type { TrafficSourceSpec } from "../../scenario/schema.js";

type ToolSpec = Extract<TrafficSourceSpec, { kind: "tool" }>;

/**
 * The command line of a real tool, as an argument list (no shell): every
 * value comes from the scenario schema's narrow patterns or from the lab.
 */
export function toolCommand(tool: ToolSpec, address: string, port: number, pbxAddress: string, pbxPort: number): string[] {
  switch (tool.tool) {
    case "svwar":
      // --force: PJSIP answers every extension with the same 401, which svwar's sanity check calls hopeless.
      return ["svwar", "-b", address, "-P", String(port), "--force", "-e", tool.target, "-m", "REGISTER", "-p", String(pbxPort), pbxAddress];
    case "svcrack":
      return ["svcrack", "-b", address, "-P", String(port), "-u", tool.target, "-r", tool.passwords, "-p", String(pbxPort), pbxAddress];
    case "sipp-register":
      return [
        "sipp",
        "-sf",
        "/slamlab/captures/record/sipp-register.xml",
        "-s",
        tool.target,
        "-au",
        tool.target,
        "-ap",
        tool.password ?? "",
        "-m",
        "1",
        "-l",
        "1",
        "-i",
        address,
        // Without it SIPp binds every address, and another tool on this container may hold the port.
        "-bind_local",
        "-p",
        String(port),
        "-timeout",
        "30s",
        "-nostdin",
        `${pbxAddress}:${pbxPort}`,
      ];
  }
}
