import type { Command } from "commander";
import { cleanLab } from "../../engines/docker/clean-lab.js";
import { buildLabImage, listLabImages } from "../../engines/docker/lab-image.js";
import { terminalProgress } from "../image-progress.js";

/** `slamlab images build|list` and `slamlab clean`: the docker lab's housekeeping. */
export function registerLabCommands(program: Command): void {
  const images = program.command("images").description("the docker engine's lab image (Asterisk, iptables, sipvicious, SIPp on Debian sid)");
  images
    .command("build")
    .description("build the lab image if its recipe changed (content-hashed tag; a second build does nothing)")
    .addHelpText("after", "\nExample: slamlab images build   # once, before --engine docker")
    .action(async () => {
      const image = await buildLabImage(terminalProgress());
      process.stdout.write(`${image.tag} ${image.built ? `built in ${image.seconds.toFixed(0)} s` : "already built"}\n`);
    });
  images
    .command("list")
    .description("slamlab's images")
    .addHelpText("after", "\nExample: slamlab images list")
    .action(async () => {
      const list = await listLabImages();
      if (list.length === 0) process.stdout.write("no slamlab images; run slamlab images build\n");
      for (const image of list) process.stdout.write(`${image.tag.padEnd(32)} ${image.created.toISOString()} ${image.sizeMb.toFixed(0).padStart(6)} MiB${image.current ? "  (current recipe)" : ""}\n`);
    });
  program
    .command("clean")
    .description("remove the containers, networks, bridge rules and temp folders of docker runs whose slamlab process is gone")
    .option("--force", "remove live runs too (their slamlab process will fail)")
    .addHelpText("after", "\nExample: slamlab clean          # after a crash or kill -9; live runs in other shells are left alone")
    .action(async (options: { force?: boolean }) => {
      const images = await listLabImages();
      const cleaned = await cleanLab(undefined, images.find((image) => image.current)?.tag ?? images[0]?.tag, { force: options.force === true });
      process.stdout.write(`removed ${cleaned.containers} containers and ${cleaned.networks} networks\n`);
      for (const run of cleaned.liveRuns) {
        const [host, pid] = run.owner.split(":");
        process.stdout.write(`left run ${run.runId} alone: its slamlab process (pid ${pid} on ${host}) is still running; slamlab clean --force removes it\n`);
      }
    });
}
