#!/bin/bash
# An Asterisk host's slamming protection as the 2010 asterisk-users post describes it
# (../shared/reference/asterisk-users-2010-slamming.txt), with this admin's real addresses:
# the PBX answers on 100.64.12.5, the head office's phones come from 100.70.3.0/24.
IPT=/sbin/iptables
PBX=100.64.12.5
ALLOW_SITES="100.70.3.0/24"
HITS=20
WINDOW=60
modprobe xt_recent
$IPT -N SIP-CHECK
$IPT -N SIP-SLAM
# Offices with many phones behind one address bypass the counting.
for site in $ALLOW_SITES; do
  $IPT -A SIP-CHECK -s $site -j RETURN
done
# A slammer stays blocked while it keeps slamming.
$IPT -A SIP-CHECK -m recent --name slammers --update --seconds $WINDOW -j SIP-SLAM
$IPT -A SIP-CHECK -m string --string "REGISTER sip:" --algo bm --from 28 --to 60 -m recent --name registers --set
$IPT -A SIP-CHECK -m string --string "REGISTER sip:" --algo bm --from 28 --to 60 -m recent --name registers --rcheck --seconds $WINDOW --hitcount $HITS -j SIP-SLAM
$IPT -A SIP-SLAM -m recent --name slammers --set
$IPT -A SIP-SLAM -j DROP
$IPT -A INPUT -d $PBX -p udp --dport 5060 -j SIP-CHECK
