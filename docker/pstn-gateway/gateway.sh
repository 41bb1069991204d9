#!/bin/sh
# Runs the gateway's SIPp UAS for ever (no -m): GATEWAY_ANSWER=503|200, GATEWAY_PORT.
set -eu
case "${GATEWAY_ANSWER:-200}" in
  200) scenario=/scenarios/gw-answer.xml ;;
  503) scenario=/scenarios/gw-unavailable.xml ;;
  *) echo "gateway: GATEWAY_ANSWER must be 200 or 503, not ${GATEWAY_ANSWER}" >&2; exit 2 ;;
esac
# SIPp writes -i into Contact and SDP, so it must be the container's own address, not
# 0.0.0.0. -nostdin: no terminal in a container; -aa: 200 to OPTIONS pings (gateway
# monitoring); -trace_logs: the scenario's <log> lines
# (one per INVITE) go to stdout, i.e. `docker logs`.
ip=${GATEWAY_IP:-$(hostname -i | awk '{print $1}')}
exec sipp -sf "$scenario" -i "$ip" -p "${GATEWAY_PORT:-5060}" -nostdin -aa \
  -trace_logs -log_file /dev/stdout "$@"
