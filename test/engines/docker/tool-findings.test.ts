import { describe, expect, it } from "vitest";
import { toolFindings } from "../../../src/engines/docker/tool-findings.js";

/** sipvicious's result tables as the tools print them at their end. */
describe("what real sipvicious tools report", () => {
  const svwar = { name: "walk", kind: "tool" as const, host: "h", startSeconds: 0, tool: "svwar" as const, target: "100-199", passwords: "1000-1099" };
  const svcrack = { ...svwar, name: "crack", tool: "svcrack" as const, target: "101", passwords: "0-9999" };

  it("svwar's extensions, each with what it learnt of its authentication", () => {
    const output = ["WARNING:TakeASip:found something", "+-----------+----------------+", "| Extension | Authentication |", "+===========+================+", "| 101       | reqauth        |", "| 150       | noauth         |", "+-----------+----------------+", ""].join("\n");
    expect(toolFindings(svwar, "198.18.1.1", output, { registeredAtUs: null, lastSentUs: 5_000_000 })).toEqual([
      { atUs: 5_000_000, source: "walk", agent: "198.18.1.1", kind: "extension-found", account: "101", detail: "svwar's own report: reqauth" },
      { atUs: 5_000_000, source: "walk", agent: "198.18.1.1", kind: "extension-found", account: "150", detail: "svwar's own report: noauth" },
    ]);
  });

  it("svcrack's password, placed at the PBX's 200 OK, its guess counted from the range's first number", () => {
    const output = "| Extension | Password |\n------------------------\n| 101       | 0042     |\n";
    expect(toolFindings(svcrack, "198.18.1.1", output, { registeredAtUs: 2_500_000, lastSentUs: 3_000_000 })).toMatchObject([{ atUs: 2_500_000, kind: "password-found", account: "101", detail: "password \"0042\", its guess 43 (svcrack's own report)" }]);
  });

  it("nothing found: a log without a result table", () => {
    expect(toolFindings(svwar, "a", "WARNING:root:found nothing\n", { registeredAtUs: null, lastSentUs: 0 })).toEqual([]);
  });
});
