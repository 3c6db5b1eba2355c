import type { Command } from "commander";
import { listBuiltinScenarios } from "../../scenario/catalogue.js";
import { SCENARIO_SCHEMA_FILE, scenarioJsonSchema, scenarioReference } from "../../scenario/scenario-json-schema.js";
import { fitLine, terminalWidth } from "../terminal.js";

export function registerScenariosCommand(program: Command): void {
  program
    .command("scenarios")
    .description("list the built-in scenarios and their variants")
    .addHelpText("after", "\nExample: slamlab scenarios   # then: slamlab simulate nat-office --variant no-allowlist")
    .option("--json-schema", `print the JSON Schema of scenario files (shipped as ${SCENARIO_SCHEMA_FILE})`)
    .option("--reference", "print the scenario file reference (Markdown, generated from the same schema)")
    .action((options: { jsonSchema?: boolean; reference?: boolean }) => {
      if (options.jsonSchema) return void process.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
      if (options.reference) return void process.stdout.write(scenarioReference());
      const scenarios = listBuiltinScenarios();
      const width = Math.max(...scenarios.map((scenario) => scenario.name.length));
      const columns = terminalWidth();
      for (const scenario of scenarios) {
        process.stdout.write(`${fitLine(`${scenario.name.padEnd(width)}  ${scenario.description}`, columns)}\n`);
        for (const variant of scenario.variants) process.stdout.write(`${"".padEnd(width)}    --variant ${variant}\n`);
      }
    });
}
