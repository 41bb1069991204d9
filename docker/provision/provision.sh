#!/bin/sh
# The lab's demo data, written by sipctl into the lab's MariaDB (compose service
# `provision`, a one-shot container the proxy waits for). Runs on every `compose up`:
# `db init` is idempotent, and the demo rows are written only into an empty subscriber
# table, so a restarted lab keeps whatever was changed by hand since.
#   SIP_DB_URL   mysql://openser:openserrw@mariadb:3306/openser
#   LAB_DOMAIN   voip.lab;  LAB_GW1 / LAB_GW2: the gateways' addresses
set -eu
: "${SIP_DB_URL:?}"
D=${LAB_DOMAIN:-voip.lab}
GW1=${LAB_GW1:-172.30.45.41}
GW2=${LAB_GW2:-172.30.45.42}
say() { echo "provision: $*"; }

sipctl db init
# `sipctl --json list` prints {"subscribers": [...]}; an empty table is the first start.
if ! sipctl --json list "$D" | tr -d ' \n' | grep -q '"subscribers":\[\]'; then
  say "subscribers of $D exist: demo data left as it is"
  exit 0
fi
# Subscribers (the book's `openserctl add`), passwords as in docs/lab.md.
sipctl add "alice@$D" "${LAB_ALICE_PASSWORD:-alice-secret}"
sipctl add "bob@$D" "${LAB_BOB_PASSWORD:-bob-secret}"
sipctl add "carol@$D" "${LAB_CAROL_PASSWORD:-carol-secret}"
# ACL groups (ch. 7, is_user_in("credentials", …)): alice may call anywhere, bob local and
# long distance, carol local only.
for g in local ld int; do sipctl acl grant "alice@$D" "$g"; done
for g in local ld; do sipctl acl grant "bob@$D" "$g"; done
sipctl acl grant "carol@$D" local
# PSTN: two gateways, gw1 preferred (priority 1) but answering 503, gw2 as the fallback
# (ch. 7 LCR failover). Numbers reach them in E.164 after the dial plan.
sipctl lcr gw add gw1 "$GW1:5060"
sipctl lcr gw add gw2 "$GW2:5060"
sipctl lcr rule add +1 --gw gw1:1 --gw gw2:2
# Calls in from the gateways skip digest auth (ch. 7, allow_trusted()).
sipctl trusted add "$GW1" --proto udp --tag gw1
sipctl trusted add "$GW2" --proto udp --tag gw2
# carol forwards every call to bob (ch. 8 avpops, the book's `callfwd` attribute).
sipctl avp add "carol@$D" callfwd "sip:bob@$D"
say "demo data of $D written"
