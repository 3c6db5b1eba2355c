import type { TrafficSourceSpec } from "../../scenario/schema.js";
import { isSippOffice } from "../../scenario/sipp-office-tool.js";
import { userSequence } from "../../scenario/user-list.js";

type ToolSpec = Extract<TrafficSourceSpec, { kind: "tool" }>;

/** Where the lab puts a SIPp office's injection file (the run's /out, shared with the traffic containers). */
export function sippInjectionFile(tool: ToolSpec): string {
  return `sipp-${tool.name}.csv`;
}

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
      if (isSippOffice(tool)) {
        const transport = tool.transport ?? "u1";
        return [
          "sipp",
          "-sf",
          "/slamlab/captures/record/sipp-office.xml",
          "-inf",
          `/out/${sippInjectionFile(tool)}`,
          "-m",
          String(tool.count ?? userSequence(tool.target).size),
          "-r",
          String(tool.ratePps ?? 10),
          // SIPp's own default limit depends on call length; the model's "no limit" is every call at once.
          "-l",
          String(tool.limit || (tool.count ?? userSequence(tool.target).size)),
          "-t",
          transport,
          "-i",
          address,
          "-bind_local",
          ...(transport === "u1" ? ["-p", String(port)] : []),
          "-nostdin",
          `${pbxAddress}:${pbxPort}`,
        ];
      }
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
