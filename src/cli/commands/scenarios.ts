import type { Command } from "commander";
import { listBuiltinScenarios } from "../../scenario/catalogue.js";

export function registerScenariosCommand(program: Command): void {
  program
    .command("scenarios")
    .description("list the built-in scenarios and their variants")
    .action(() => {
      const scenarios = listBuiltinScenarios();
      const width = Math.max(...scenarios.map((scenario) => scenario.name.length));
      for (const scenario of scenarios) {
        process.stdout.write(`${scenario.name.padEnd(width)}  ${scenario.description}\n`);
        for (const variant of scenario.variants) process.stdout.write(`${"".padEnd(width)}    --variant ${variant}\n`);
      }
    });
}
