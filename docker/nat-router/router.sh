#!/bin/sh
# NAT_WAN_SUBNET: the network the router masquerades onto (the lab's sip network). The
# container needs NET_ADMIN and net.ipv4.ip_forward=1 (compose sets both).
set -eu
wan_if=$(ip -o -4 route get "${NAT_WAN_PROBE:?NAT_WAN_PROBE: an address on the sip network}" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
[ -n "$wan_if" ] || { echo "router: no interface towards $NAT_WAN_PROBE" >&2; exit 1; }
iptables -t nat -A POSTROUTING -o "$wan_if" -j MASQUERADE --random-fully
echo "router: masquerading onto $wan_if ($(ip -o -4 addr show dev "$wan_if" | awk '{print $4}'))"
# Sleep as PID 1 until `docker stop` (SIGTERM ends the wait).
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
