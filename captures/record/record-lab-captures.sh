#!/usr/bin/env bash
# Records captures of real tools against real Asterisk 22 in an internal
# (no egress) Docker network, from tcpdump on the PBX's interface:
#   lab-svwar-asterisk22.pcap    sipvicious svwar walking extensions 100-299
#   lab-svcrack-asterisk22.pcap  sipvicious svcrack guessing extension 200's password (1000-1299)
#   lab-sipp-register.pcap       SIPp registering a phone (200) with digest auth
# Needs a Docker engine (ci/setup-docker.sh) and the image slamlab-lab:base
# (Debian sid with asterisk, sipvicious, sip-tester, tcpdump: see MANIFEST.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(cd "$here/.." && pwd)"
image="${SLAMLAB_LAB_IMAGE:-slamlab-lab:base}"
net="slamlab-record-$$"
label="slamlab.run=record-$$"
cleanup() {
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

docker network create --internal --subnet 198.18.0.0/24 --label "$label" "$net" >/dev/null
docker run -d --name "pbx-$$" --label "$label" --network "$net" --ip 198.18.0.10 --cap-add NET_ADMIN --cap-add NET_RAW \
  -v "$here/pjsip.conf:/etc/asterisk/pjsip.conf:ro" "$image" asterisk -f >/dev/null
for _ in $(seq 1 30); do
  docker exec "pbx-$$" asterisk -rx "pjsip show transports" 2>/dev/null | grep -q transport-udp && break
  sleep 1
done

record() { # name, then the command run from the client at 198.18.0.66
  local name="$1"
  shift
  docker exec -d "pbx-$$" tcpdump -i eth0 -U -s 0 -w "/tmp/$name" udp port 5060
  sleep 2
  docker run --rm --label "$label" --network "$net" --ip 198.18.0.66 -v "$here:/record:ro" "$image" "$@" || true
  sleep 2
  docker exec "pbx-$$" pkill -INT tcpdump || true
  sleep 1
  docker cp "pbx-$$:/tmp/$name" "$out/$name"
  echo "recorded $out/$name"
}

record lab-svwar-asterisk22.pcap svwar --force -e100-299 -m REGISTER 198.18.0.10
record lab-svcrack-asterisk22.pcap svcrack -u200 -r1000-1299 198.18.0.10
record lab-sipp-register.pcap sipp -sf /record/sipp-register.xml -s 200 -ap lab-200-Secret -au 200 -m 1 -l 1 -i 198.18.0.66 -p 5062 198.18.0.10:5060
