import type { ImageProgress } from "../engines/docker/lab-image.js";

/** Image build progress on stderr: one updating line on a TTY, plain lines elsewhere (CI logs). */
export function terminalProgress(): ImageProgress {
  const started = performance.now();
  const tty = process.stderr.isTTY === true;
  let last = "";
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s`;
  return {
    step(message) {
      if (tty) process.stderr.write(`\r\u001b[2K[images ${elapsed()}] ${message.slice(0, (process.stderr.columns ?? 100) - 20)}`);
      else if (!message.startsWith(last.split(":")[0] ?? "") || !message.includes(":")) process.stderr.write(`[images ${elapsed()}] ${message}\n`);
      last = message;
    },
    done(message) {
      process.stderr.write(`${tty ? "\r\u001b[2K" : ""}[images ${elapsed()}] ${message}\n`);
    },
  };
}
