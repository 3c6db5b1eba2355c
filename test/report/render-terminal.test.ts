import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/cli/run-scenario.js";
import { ModelEngine } from "../../src/engines/model/model-engine.js";
import { renderTerminal } from "../../src/report/render-terminal.js";
import { resolveScenarioRef } from "../../src/scenario/catalogue.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";

describe("the terminal report of a docker run", () => {
  const dockerLike = async (environment: Record<string, string>) => {
    const report = await runScenario(loadScenario(resolveScenarioRef("nat-office"), null), new ModelEngine());
    return renderTerminal({ ...report, result: { ...report.result, engine: "docker", environment: { asterisk: "Asterisk 22.10.1", kernel: "6.18", "asterisk contacts": "none", ...environment } } }, { color: false });
  };

  it("gives the paced sends' lateness", async () => {
    expect(await dockerLike({ "send error p50 (µs)": "41", "send error p99 (µs)": "380" })).toContain("send-time error p50 41 µs, p99 380 µs");
  });

  it("says the send error was not measured when only real tools sent, rather than 0 µs", async () => {
    const text = await dockerLike({ "send error p50 (µs)": "not measured", "send error p99 (µs)": "not measured" });
    expect(text).toContain("send-time error not measured (no paced sends: real tools keep their own time)");
    expect(text).not.toMatch(/p50 (0|not measured) µs/);
  });
});
