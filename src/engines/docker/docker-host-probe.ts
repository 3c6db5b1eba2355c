import { connect, type Socket } from "node:net";

/**
 * Asks the engine DOCKER_HOST names for /_ping ourselves: testcontainers
 * falls back to /var/run/docker.sock when DOCKER_HOST does not answer, which
 * would run the lab on another engine than the one the user chose. Returns
 * null when it answers (or the scheme is one we cannot probe), else why not.
 */
export async function probeDockerHost(dockerHost: string, timeoutMs = 3000): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch {
    return `"${dockerHost}" is not a URL such as unix:///var/run/docker.sock or tcp://host:2375`;
  }
  let socket: Socket;
  if (url.protocol === "unix:") socket = connect({ path: decodeURIComponent(url.pathname) });
  else if (url.protocol === "tcp:" || url.protocol === "http:") socket = connect({ host: url.hostname, port: Number(url.port || 2375) });
  else if (url.protocol === "https:") socket = connect({ host: url.hostname, port: Number(url.port || 2376) });
  else return null; // ssh:// and npipe:// are left to testcontainers
  return new Promise((resolve) => {
    const done = (reason: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    socket.once("error", (error) => done((error as NodeJS.ErrnoException).code ?? error.message));
    // A TLS endpoint answers a TCP connect; the handshake is testcontainers' to do.
    socket.once("connect", () => {
      if (url.protocol === "https:") return done(null);
      socket.write("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n");
    });
    let reply = "";
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (/\r\n\r\n/.test(reply)) done(/^HTTP\/1\.[01] 200/.test(reply) ? null : `it answered ${reply.split("\r\n")[0]}`);
    });
    socket.once("end", () => done(reply ? `it answered ${reply.split("\r\n")[0]}` : "it closed the connection"));
  });
}
