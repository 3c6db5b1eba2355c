import { describe, expect, it } from "vitest";
import { endedOnHarmlessFailure, failedCommands } from "../../src/firewall/import-firewall.js";

/** The ERR trap's records as the lab container's shell writes them while a script is sourced (`. fw.sh`). */
const records = (...lines: string[]) => failedCommands(lines.map((line) => `slamlab-failed:${line}`).join("\n"));

describe("a firewall script's exit status in the lab container", () => {
  it("is its last command's: a script ending on `iptables-save > /etc/iptables/rules.v4` (no such directory there) ended harmlessly", () => {
    expect(endedOnHarmlessFailure(records("3:1:modprobe xt_recent", "19:1:iptables-save > /etc/iptables/rules.v4", "4:1:. fw.sh"), ". fw.sh", 1)).toBe(true);
  });

  it("is the script's own when it exits on purpose or its last command is a rule that failed", () => {
    // `exit 3` ends the shell: the source line leaves no record.
    expect(endedOnHarmlessFailure(records("3:1:modprobe xt_recent"), ". fw.sh", 3)).toBe(false);
    expect(endedOnHarmlessFailure(records("7:2:iptables -A INPUT -m recent --bogus -j DROP", "4:2:. fw.sh"), ". fw.sh", 2)).toBe(false);
    // A harmless failure earlier, a later command's failure the status.
    expect(endedOnHarmlessFailure(records("3:1:modprobe xt_recent", "8:4:false", "4:4:. fw.sh"), ". fw.sh", 4)).toBe(false);
    expect(endedOnHarmlessFailure([], ". fw.sh", 0)).toBe(false);
  });
});
