import { describe, expect, it } from "vitest";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { scenarioOf } from "../../helpers/scenario.js";

describe("SIP over TCP on the docker engine", () => {
  it("is refused before any lab starts, saying to run it on the model engine", async () => {
    const scenario = scenarioOf({
      name: "tcp-flood",
      description: "a REGISTER flood over TCP",
      durationSeconds: 10,
      pbx: { address: "198.51.100.10", accounts: [{ users: "200-219", password: "pbx-{user}-Str0ng" }] },
      hosts: { bot: { kind: "addresses", addresses: ["198.18.66.6"] } },
      traffic: [{ name: "flood", kind: "register-flood", host: "bot", ratePps: 20, durationSeconds: 5, transport: "tcp" }],
    });
    await expect(new DockerEngine().run(scenario)).rejects.toMatchObject({
      code: "SCENARIO_ENGINE",
      message: expect.stringContaining('traffic "flood" sends SIP over TCP, which the docker engine\'s runners do not send yet; run it with --engine model'),
    });
  });
});
