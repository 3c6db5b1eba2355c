#!/usr/bin/env bash
# Makes a Docker engine available for slamlab's docker engine and tests:
# installs Debian's docker.io and debootstrap when absent, starts dockerd when
# no daemon answers. Idempotent; slamlab itself never installs anything.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
if ((${#need[@]})); then
  echo "setup-docker: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The lab's tcpdump asks for an 8 MiB NFLOG socket buffer (a 100-phone burst
# overflows the default and loses verdict records); the host's rmem_max caps it.
wanted_rmem=8388608
if (( $(cat /proc/sys/net/core/rmem_max) < wanted_rmem )); then
  sysctl -q -w net.core.rmem_max=$wanted_rmem || echo "setup-docker: could not raise net.core.rmem_max to $wanted_rmem; verdict records may be lost in bursts" >&2
fi

if docker info >/dev/null 2>&1; then
  echo "setup-docker: a Docker engine answers"
  exit 0
fi

echo "setup-docker: starting dockerd"
mkdir -p /var/log
nohup dockerd >/var/log/slamlab-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "setup-docker: dockerd is up"
    exit 0
  fi
  sleep 1
done
echo "setup-docker: dockerd did not answer within 60 s; see /var/log/slamlab-dockerd.log" >&2
tail -20 /var/log/slamlab-dockerd.log >&2 || true
exit 1
