/**
 * One registered contact of an address-of-record. Field names follow Kamailio 5.x's `location`
 * table (ruid, username/domain → aor, contact, received, path, expires, q, callid, cseq,
 * last_modified, flags, cflags, user_agent, socket, methods, instance, reg_id) so the MySQL
 * persistence of a later issue maps 1:1.
 */
export interface Binding {
  /** Unique record id (Kamailio's ruid). */
  ruid: string;
  /** `user@domain`, domain lowercased (RFC 3261 §10.3 step 5 canonical AOR). */
  aor: string;
  /** The Contact URI as registered (latin1-held text). */
  contact: string;
  /** Source the REGISTER came from when it differs from the contact (NAT), `sip:ip:port;transport=x`. */
  received: string | null;
  /** RFC 3327 Path header values, comma-joined. */
  path: string | null;
  /** Absolute expiry, epoch milliseconds. */
  expires: number;
  /** RFC 3261 §10.2.1.2 preference, 0..1; -1 when not given. */
  q: number;
  callId: string;
  cseq: number;
  lastModified: number;
  flags: number;
  cflags: number;
  userAgent: string;
  /** Our socket the REGISTER arrived on, `udp:127.0.0.1:5060`. */
  socket: string | null;
  /** Methods the contact accepts (bitmask), null = all. */
  methods: number | null;
  /** RFC 5626 +sip.instance. */
  instance: string | null;
  /** RFC 5626 reg-id. */
  regId: number;
}

/**
 * Binding.cflags bits, as Kamailio's default configuration numbers its branch flags
 * (FLB_NATB 6: registered from behind a NAT; FLB_NATSIPPING 7: send it NAT keepalives).
 */
export const BINDING_FLAG_NAT = 1 << 6;
export const BINDING_FLAG_NAT_PING = 1 << 7;
