# fail2ban bans 198.18.66.6 in the asterisk jail with its nftables-multiport action, in the
# network namespace this runs in (unshare --net), and prints the nft ruleset its action made.
set -e
work=$(mktemp -d)
cp -r /etc/fail2ban "$work/conf"
rm -f "$work/conf/jail.d/"*
touch "$work/asterisk.log"
cat > "$work/conf/fail2ban.local" <<CONF
[Definition]
logtarget = $work/f2b.log
socket = $work/f2b.sock
pidfile = $work/f2b.pid
dbfile = :memory:
CONF
cat > "$work/conf/jail.local" <<CONF
[DEFAULT]
banaction = nftables-multiport
banaction_allports = nftables-allports
backend = polling
[sshd]
enabled = false
[asterisk]
enabled = true
logpath = $work/asterisk.log
CONF
ip link set lo up
fail2ban-server -f -c "$work/conf" -s "$work/f2b.sock" -p "$work/f2b.pid" > "$work/server.out" 2>&1 &
server=$!
for i in $(seq 1 50); do fail2ban-client -c "$work/conf" -s "$work/f2b.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
fail2ban-client -c "$work/conf" -s "$work/f2b.sock" set asterisk banip 198.18.66.6 >/dev/null
for i in $(seq 1 50); do nft list ruleset | grep -q 198.18.66.6 && break; sleep 0.1; done
nft list ruleset
fail2ban-client -c "$work/conf" -s "$work/f2b.sock" stop >/dev/null 2>&1 || true
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
rm -rf "$work"
