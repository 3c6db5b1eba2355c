import type { Command } from "commander";
import { listBuiltinScenarios } from "../../scenario/catalogue.js";
import { fitLine, terminalWidth } from "../terminal.js";

export function registerScenariosCommand(program: Command): void {
  program
    .command("scenarios")
    .description("list the built-in scenarios and their variants")
    .addHelpText("after", "\nExample: slamlab scenarios   # then: slamlab simulate nat-office --variant no-allowlist")
    .action(() => {
      const scenarios = listBuiltinScenarios();
      const width = Math.max(...scenarios.map((scenario) => scenario.name.length));
      const columns = terminalWidth();
      for (const scenario of scenarios) {
        process.stdout.write(`${fitLine(`${scenario.name.padEnd(width)}  ${scenario.description}`, columns)}\n`);
        for (const variant of scenario.variants) process.stdout.write(`${"".padEnd(width)}    --variant ${variant}\n`);
      }
    });
}
