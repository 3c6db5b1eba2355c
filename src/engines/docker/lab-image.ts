import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineUnavailableError } from "../engine.js";
import { LABEL_APP, dockerRuntime } from "./docker-runtime.js";

/** What goes into the lab image; its hash is the image tag, so an unchanged recipe builds nothing. */
export const LAB_PACKAGES = ["asterisk", "iptables", "nftables", "tcpdump", "iproute2", "nodejs", "sipvicious", "sip-tester", "procps", "ca-certificates", "ipset", "fail2ban"];
const SUITE = "sid";
const REPOSITORY = "slamlab-lab";
const VERSIONS_SCRIPT = [
  "set -e",
  "asterisk -V | sed 's/^/asterisk: /'",
  "iptables --version | sed 's/^/iptables: /'",
  "node --version | sed 's/^/node: /'",
  "sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | sed 's/^/sipp: /'",
  "dpkg-query -W -f='sipvicious: ${Version}\\n' sipvicious",
].join("; ");

export interface ImageProgress {
  step(message: string): void;
  done(message: string): void;
}

export const silentProgress: ImageProgress = { step: () => undefined, done: () => undefined };

function recipeHash(): string {
  return createHash("sha256").update(JSON.stringify({ SUITE, LAB_PACKAGES, VERSIONS_SCRIPT, format: 2 })).digest("hex").slice(0, 12);
}

export function labImageTag(): string {
  return `${REPOSITORY}:${recipeHash()}`;
}

export interface LabImage {
  readonly tag: string;
  readonly built: boolean;
  readonly seconds: number;
}

/**
 * The lab image: Debian sid with Asterisk, iptables, nftables, tcpdump,
 * iproute2, Node.js, sipvicious and SIPp. The base comes from a pulled
 * `debian:sid` when a registry answers, otherwise from debootstrap and
 * `docker import`; a Dockerfile step on top records the tools' versions.
 */
export async function buildLabImage(progress: ImageProgress = silentProgress): Promise<LabImage> {
  const started = performance.now();
  const runtime = await dockerRuntime();
  const dockerode = runtime.container.dockerode;
  const tag = labImageTag();
  const seconds = () => (performance.now() - started) / 1000;
  if (await imageExists(dockerode, tag)) {
    progress.done(`${tag} is up to date`);
    return { tag, built: false, seconds: seconds() };
  }
  const hash = recipeHash();
  const work = await mkdtemp(join(tmpdir(), "slamlab-image-"));
  try {
    let from: string;
    progress.step("pulling debian:sid");
    if (await pulled(dockerode, "debian:sid")) {
      from = "debian:sid";
    } else {
      progress.step(`no registry answers: base from debootstrap ${SUITE} with ${LAB_PACKAGES.join(", ")} (about a minute when not built before)`);
      from = `slamlab-base:${hash}`;
      // A base from an earlier build of the same recipe is reused: only the Dockerfile step failed then.
      if (!(await imageExists(dockerode, from))) await debootstrapBase(join(work, "rootfs"), from, dockerode, progress);
    }
    const install = from === "debian:sid" ? `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${LAB_PACKAGES.join(" ")} && rm -rf /var/lib/apt/lists/*\n` : "";
    const dockerfile = `FROM ${from}\n${install}RUN sh -c "${VERSIONS_SCRIPT.replace(/"/g, '\\"').replace(/\$/g, "\\$")}" > /etc/slamlab-versions\nLABEL ${LABEL_APP}=slamlab slamlab.recipe=${hash}\n`;
    // The build context holds only the Dockerfile: the debootstrap tree beside it has device nodes.
    const context = join(work, "context");
    await mkdir(context);
    await writeFile(join(context, "Dockerfile"), dockerfile);
    progress.step(`building ${tag} (Dockerfile: versions, labels)`);
    const { GenericContainer } = await import("testcontainers");
    await GenericContainer.fromDockerfile(context).withPullPolicy({ shouldPull: () => false }).build(tag, { deleteOnExit: false });
    progress.done(`built ${tag} in ${seconds().toFixed(0)} s`);
    return { tag, built: true, seconds: seconds() };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function imageExists(dockerode: Runtime["container"]["dockerode"], tag: string): Promise<boolean> {
  try {
    await dockerode.getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
}

type Runtime = Awaited<ReturnType<typeof dockerRuntime>>;

/** A pull that fails fast where there is no registry; never waits more than 30 s. */
async function pulled(dockerode: Runtime["container"]["dockerode"], image: string): Promise<boolean> {
  if (process.env.SLAMLAB_NO_PULL === "1") return false;
  const attempt = new Promise<boolean>((resolve) => {
    dockerode.pull(image, (error: Error | null, stream: NodeJS.ReadableStream | undefined) => {
      if (error || !stream) return resolve(false);
      dockerode.modem.followProgress(stream, (finished: Error | null) => resolve(!finished));
    });
  });
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000).unref());
  return Promise.race([attempt, timeout]);
}

async function debootstrapBase(rootfs: string, tag: string, dockerode: Runtime["container"]["dockerode"], progress: ImageProgress): Promise<void> {
  const mirror = process.env.SLAMLAB_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
  await run("debootstrap", ["--variant=minbase", `--include=${LAB_PACKAGES.join(",")}`, SUITE, rootfs, mirror], progress, "debootstrap");
  progress.step(`docker import ${tag}`);
  const tar = spawn("tar", ["-C", rootfs, "-c", "."], { stdio: ["ignore", "pipe", "pipe"] });
  const [repo, version] = tag.split(":") as [string, string];
  const stream = await dockerode.importImage(tar.stdout as unknown as string, { repo, tag: version, changes: [`LABEL ${LABEL_APP}=slamlab`] } as object);
  await new Promise<void>((resolve, reject) => dockerode.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())));
}

function run(command: string, args: string[], progress: ImageProgress, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const remember = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-2000);
      const last = tail.trim().split("\n").pop();
      if (last) progress.step(`${label}: ${last.slice(0, 100)}`);
    };
    child.stdout.on("data", remember);
    child.stderr.on("data", remember);
    child.on("error", (error) =>
      reject(new EngineUnavailableError("IMAGE_BUILD", `${command} could not start (${error.message}); install it (apt-get install ${command}) or run bash ci/setup-docker.sh`)),
    );
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new EngineUnavailableError("IMAGE_BUILD", `${command} failed with exit code ${code}:\n${tail.trim().split("\n").slice(-8).join("\n")}`)),
    );
  });
}

/** slamlab's images, newest first. */
export async function listLabImages(): Promise<Array<{ tag: string; created: Date; sizeMb: number; current: boolean }>> {
  const runtime = await dockerRuntime();
  const images = await runtime.container.dockerode.listImages({ filters: { label: [`${LABEL_APP}=slamlab`] } });
  const current = labImageTag();
  return images
    .flatMap((image) => (image.RepoTags ?? []).map((tag) => ({ tag, created: new Date(image.Created * 1000), sizeMb: image.Size / 2 ** 20, current: tag === current })))
    .sort((a, b) => b.created.getTime() - a.created.getTime());
}
