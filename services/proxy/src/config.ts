/**
 * Proxy configuration: one typed file (YAML or JSON) plus environment overrides, validated
 * once by a strict zod schema with defaults and bounds, then frozen (STYLE.md §9).
 * Modules never read process.env; they get their slice of this object at init.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const LISTEN_RE = /^(udp|tcp|tls):(\[[0-9a-fA-F:.]{2,45}\]|[0-9.]{7,15}|[A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/;

/**
 * `udp:IP:PORT` / `tcp:[::1]:5060` / `tls:IP:5061` as given on the command line (the book's
 * `listen=`). Without a port: 5060, or 5061 for TLS (RFC 3261 §19.1.2).
 */
export const ListenSchema = z
  .string()
  .regex(LISTEN_RE, 'listen address must look like udp:IP:PORT, tcp:IP:PORT or tls:IP:PORT (IPv6 in brackets)')
  .transform((s) => {
    const m = LISTEN_RE.exec(s)!;
    const protocol = m[1]!.toUpperCase() as 'UDP' | 'TCP' | 'TLS';
    return {
      protocol,
      address: m[2]!.replace(/^\[|\]$/g, ''),
      port: m[3] === undefined ? (protocol === 'TLS' ? 5061 : 5060) : Number(m[3]),
    };
  })
  .refine((l) => l.port >= 0 && l.port <= 65535, 'port out of range');

export type ListenAddress = z.output<typeof ListenSchema>;

const TimersSchema = z
  .object({
    /** RFC 3261 §17.1.1.1: RTT estimate, default 500 ms. */
    t1: z.number().int().min(10).max(10_000).default(500),
    /** Maximum retransmit interval for non-INVITE requests and INVITE responses. */
    t2: z.number().int().min(100).max(60_000).default(4_000),
    /** Maximum time a message remains in the network. */
    t4: z.number().int().min(100).max(60_000).default(5_000),
    /** RFC 3261 §16.6 step 11: Timer C, which must be greater than 3 minutes. */
    timerC: z.number().int().min(180_001).max(3_600_000).default(181_000),
  })
  .strict();

const RegistrarSchema = z
  .object({
    /** RFC 3261 §10.3 step 7: shorter requests are answered 423 with Min-Expires. */
    minExpires: z.number().int().min(0).max(86_400).default(60),
    maxExpires: z.number().int().min(1).max(31_536_000).default(3_600),
    /** Used when neither the Contact expires parameter nor an Expires header is present. */
    defaultExpires: z.number().int().min(1).max(31_536_000).default(3_600),
    /** 0 = unlimited; more contacts than this for one AOR is answered 403. */
    maxContacts: z.number().int().min(0).max(1_000).default(0),
  })
  .strict();

/**
 * SIP over TLS (docs/tls.md): the certificate of every `tls:` listener and the verification
 * policy. Without certificate and key a self-signed lab certificate is generated at start
 * into `<stateDir>/tls/` (never for production: phones cannot verify it unless they import it).
 */
const TlsSchema = z
  .object({
    /** PEM file with our certificate (chain: leaf first, then intermediates). */
    certificate: z.string().min(1).max(4096).optional(),
    /** PEM file with the certificate's private key (unencrypted; keep it mode 0600). */
    privateKey: z.string().min(1).max(4096).optional(),
    /** PEM file of the CAs trusted for client certificates (verifyClient) and servers (verifyServer). */
    ca: z.string().min(1).max(4096).optional(),
    /** Mutual TLS: refuse clients without a certificate issued by `ca` (Kamailio's verify_certificate + require_certificate). */
    verifyClient: z.boolean().default(false),
    /** Refuse servers we connect to unless their certificate chains to `ca` and names the IP we dialled. */
    verifyServer: z.boolean().default(false),
    /** Lowest TLS version accepted in both directions (RFC 8996: nothing below 1.2). */
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .strict()
  .refine((t) => (t.certificate === undefined) === (t.privateKey === undefined), {
    message: 'tls.certificate and tls.privateKey go together',
  })
  .refine((t) => !(t.verifyClient || t.verifyServer) || t.ca !== undefined, {
    message: 'tls.verifyClient and tls.verifyServer need tls.ca (the CA certificates to trust)',
  });

/** NAT traversal (docs/nat.md): nathelper's detection and keepalives. */
const NatSchema = z
  .object({
    /** The nat_uac_test tests (Kamailio flags 1, 2, 4, 8, 16); default = nat_uac_test("19"). */
    tests: z
      .array(z.enum(['contact-private', 'via-received', 'via-private', 'sdp-private', 'via-port']))
      .max(5)
      .default(['contact-private', 'via-received', 'via-port']),
    /** force_rport() on every UDP request (RFC 3581 §4 as if asked): NATed phones that omit rport are answered. */
    forceRport: z.boolean().default(true),
    keepalive: z
      .object({
        /** Seconds between OPTIONS (UDP) / CRLFCRLF (TCP) to NATed bindings; 0 = off. */
        interval: z.number().int().min(0).max(3_600).default(20),
        /** Unanswered OPTIONS in a row before a UDP binding is removed; 0 = never. */
        maxMisses: z.number().int().min(0).max(100).default(3),
        /** From URI of the keepalive OPTIONS (nathelper's sipping_from). */
        from: z.string().min(5).max(256).default('sip:keepalive@localhost'),
      })
      .strict()
      .prefault({}),
    /** With keepalives off: Expires cap (s) for NATed UDP bindings, so phones refresh in time; 0 = none. */
    udpMaxExpires: z.number().int().min(0).max(86_400).default(60),
  })
  .strict();

/** Media anchoring through rtp-relay / rtpengine over the ng protocol (docs/nat.md). */
const RtpengineSchema = z
  .object({
    /** ng sockets of the relay set (`udp:IP:PORT`); empty = media is not anchored. */
    relays: z.array(z.string().regex(/^udp:(\[[0-9a-fA-F:.]{2,45}\]|[0-9.]{7,15}):\d{1,5}$/, 'relay must look like udp:IP:PORT')).max(64).default([]),
    /** `nat`: anchor calls where either side is NATed; `always`: every call. */
    engage: z.enum(['nat', 'always']).default('nat'),
    /** ng flags (trust-address deliberately absent: the relay learns where media really comes from). */
    flags: z.array(z.string().min(1).max(64)).max(32).default(['symmetric']),
    /** ng replace list. */
    replace: z.array(z.enum(['origin', 'session-connection'])).max(2).default(['origin', 'session-connection']),
    /** ng ICE handling. */
    ice: z.enum(['remove', 'force', 'default']).default('remove'),
    /** Per-try ng timeout (ms). */
    timeout: z.number().int().min(50).max(10_000).default(1_000),
    /** Tries per ng request, the first included. */
    tries: z.number().int().min(1).max(10).default(2),
    /** Seconds between ng pings (health checks); 0 = only timeouts mark a relay down. */
    pingInterval: z.number().int().min(0).max(3_600).default(10),
    /** Seconds an idle Call-ID affinity is kept (calls whose BYE never passed us). */
    affinityTtl: z.number().int().min(60).max(604_800).default(14_400),
  })
  .strict();

/** Chapter 5: the database (subscribers, location, aliases, domains). Absent = chapter 4. */
const DbSchema = z
  .object({
    /** mysql://USER:PASS@HOST:PORT/DB, file:subscribers.yaml or memory: (see storage/db-url.ts). */
    url: z.string().min(1).max(1_000).optional(),
    /** Start-up connection attempts (exponential back-off) before giving up. */
    connectAttempts: z.number().int().min(1).max(100).default(10),
  })
  .strict();

const AuthSchema = z
  .object({
    /**
     * HMAC key of the nonces. Every proxy process that must accept the others' nonces (workers,
     * a restarted proxy) needs the same one; absent = random per process (phones re-authenticate
     * after a restart, answered stale=true).
     */
    nonceSecret: z.string().min(16).max(256).optional(),
    /** Nonce lifetime in seconds (Kamailio's nonce_expire). */
    nonceExpires: z.number().int().min(10).max(3_600).default(300),
    /**
     * Offered digest algorithms, most preferred first (RFC 8760 §2.4). MD5 only by default, as
     * Kamailio offers: SIPp 3.6 answers only the first challenge and knows only MD5, and
     * baresip 1.0's libre rejects a 401 carrying any non-MD5 challenge (docs/mysql.md).
     */
    algorithms: z.array(z.enum(['SHA-256', 'MD5', 'SHA-512-256'])).min(1).default(['MD5']),
    /** Accept RFC 2069-style responses without qop (no nonce-count replay protection for them). */
    allowNoQop: z.boolean().default(true),
    /** Password-guessing protection (docs/security.md). */
    guessing: z
      .object({
        enabled: z.boolean().default(true),
        /** Failed digest responses are counted over this sliding window (s). */
        windowSeconds: z.number().int().min(1).max(86_400).default(300),
        /** Failures for one user@realm within the window before it is blocked; 0 = no per-user block. */
        maxFailuresPerUser: z.number().int().min(0).max(100_000).default(10),
        /** Failures from one source IP within the window before it is blocked; 0 = no per-IP block. */
        maxFailuresPerIp: z.number().int().min(0).max(100_000).default(20),
        /** How long a block lasts (s); attempts during it are refused even with the right password. */
        blockSeconds: z.number().int().min(1).max(86_400).default(600),
        /** `reply`: 403 Forbidden; `drop`: no answer at all (the scanner waits for its timeout). */
        action: z.enum(['reply', 'drop']).default('reply'),
        /** Most users + addresses tracked; the least recently seen are forgotten first. */
        maxTracked: z.number().int().min(100).max(10_000_000).default(100_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address. */
const NetworkSchema = z.string().min(2).max(64).regex(/^[0-9A-Fa-f.:]+(\/\d{1,3})?$/, 'network must be an IP address or CIDR');

/** Flood detection like Kamailio's pike module (docs/security.md). */
const PikeSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Sliding window over which requests per source IP are counted (ms; pike's sampling_time_unit). */
    windowMs: z.number().int().min(100).max(600_000).default(2_000),
    /** Requests per source IP within the window before it is blocked (pike's reqs_density_per_unit). */
    maxRequests: z.number().int().min(1).max(1_000_000).default(30),
    /** How long a blocked source stays blocked (s); every request from it is dropped meanwhile. */
    blockSeconds: z.number().int().min(1).max(86_400).default(120),
    /** Never counted nor blocked: trusted peers, gateways, a local SBC. Loopback by default. */
    trusted: z.array(NetworkSchema).max(10_000).default(['127.0.0.0/8', '::1/128']),
    /** Most source addresses tracked; the least recently seen are forgotten first. */
    maxTracked: z.number().int().min(100).max(10_000_000).default(100_000),
  })
  .strict();

/** Scanner user agents dropped silently (Kamailio's secfilter / the sipvicious rules). */
const SecfilterSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Case-insensitive substrings of User-Agent that mark a scanner. */
    userAgents: z
      .array(z.string().min(2).max(128))
      .max(1_000)
      .default(['friendly-scanner', 'sipvicious', 'sipcli', 'VaxSIPUserAgent', 'sundayddr', 'iWar', 'SIVuS', 'smap', 'sip-scan', 'pplsip', 'siparmyknife']),
  })
  .strict();

/** New INVITEs are refused with 503 + Retry-After while the proxy cannot keep up (docs/security.md). */
const OverloadSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Overloaded while the kernel drops datagrams on our UDP sockets (/proc/net/udp, Linux). */
    udpDrops: z.boolean().default(true),
    /** Event-loop delay (99th percentile over one sampling interval, ms) above which we are overloaded. */
    maxEventLoopDelayMs: z.number().int().min(10).max(60_000).default(250),
    /** Relayed requests still waiting for their final response above which we are overloaded; 0 = off. */
    maxPendingTransactions: z.number().int().min(0).max(10_000_000).default(20_000),
    /** How often the event-loop delay is sampled (ms). */
    sampleIntervalMs: z.number().int().min(50).max(60_000).default(500),
    /** Retry-After (s) of the 503; each answer picks a value in [n, 2n) so callers do not retry in step. */
    retryAfterSeconds: z.number().int().min(1).max(3_600).default(5),
  })
  .strict();

/** Provider route (book ch. 7–8, docs/provider.md): permissions module. */
const PermissionsSchema = z
  .object({
    /** The `address` table group whose members are trusted like `trusted` rows (Kamailio's grp 1). */
    addressGroup: z.number().int().min(0).max(2_147_483_647).default(1),
    /** Reload period of `trusted` + `address` (ms); 0 = start-up and POST /permissions/reload only. */
    reloadInterval: z.number().int().min(0).max(86_400_000).default(60_000),
  })
  .strict();

/** One dial-plan rule: numbers matching `match` need ACL group `group` and become prefix + number minus `strip` digits. */
const DialPlanRuleSchema = z
  .object({
    match: z.string().min(1).max(256),
    group: z.string().min(1).max(64),
    strip: z.number().int().min(0).max(32).default(0),
    prefix: z.string().max(32).regex(/^[0-9+*#]*$/, 'prefix must be digits, +, * or #').default(''),
    denyReason: z.string().min(1).max(128).optional(),
  })
  .strict();

/**
 * The book's North-American plan (ch. 8 route[10]) as data, plus numbers dialled already in
 * E.164 (`+1…` long distance, any other `+…` international): phones, `tel:` forwarding targets
 * (RFC 3966) and speed dials use them, and the book's three rules would route them as user names.
 */
const NORTH_AMERICAN_PLAN = [
  { match: '[2-9][0-9]{6}', group: 'local', strip: 0, prefix: '+1' },
  { match: '1[2-9][0-9]{9}', group: 'ld', strip: 1, prefix: '+1' },
  { match: '011[0-9]{1,20}', group: 'int', strip: 3, prefix: '+' },
  { match: '\\+1[2-9][0-9]{9}', group: 'ld', strip: 0, prefix: '' },
  { match: '\\+[2-9][0-9]{6,14}', group: 'int', strip: 0, prefix: '' },
];

const DialPlanSchema = z
  .object({
    /** Kamailio dialplan id of the `dialplan` table rows used (tried before `rules`). */
    dpid: z.number().int().min(0).max(2_147_483_647).default(1),
    rules: z.array(DialPlanRuleSchema).max(1_000).prefault(NORTH_AMERICAN_PLAN),
    /** 403 reason per ACL group (the book's phrases). */
    denyReasons: z
      .record(z.string().min(1).max(64), z.string().min(1).max(128))
      .default({ local: 'No permissions for local calls', ld: 'No permissions for long distance', int: 'No perm. for internat.calls' }),
    /** Reload period of the `dialplan` table (ms); 0 = start-up and POST /dialplan/reload only. */
    reloadInterval: z.number().int().min(0).max(86_400_000).default(60_000),
  })
  .strict();

const LcrSchema = z
  .object({
    /** The LCR instance (lcr_id) routed with. */
    id: z.number().int().min(1).max(2_147_483_647).default(1),
    /** fr_inv_timer of this gateway set (ms): a gateway without a final answer by then is skipped. */
    frInvTimeout: z.number().int().min(100).max(600_000).default(30_000),
    /** Reload period of the lcr tables (ms); 0 = start-up and POST /lcr/reload only. */
    reloadInterval: z.number().int().min(0).max(86_400_000).default(60_000),
  })
  .strict();

const CallForwardSchema = z
  .object({
    /** How long usr_preferences and grp lookups are cached (ms); 0 = per call. POST /preferences/reload flushes. */
    cacheTtl: z.number().int().min(0).max(600_000).default(5_000),
    /** No-answer timeout (ms) for users without fwdnoanswer_timeout, when fwdnoanswer or voicemail is there. */
    noAnswerTimeout: z.number().int().min(100).max(600_000).default(30_000),
    /** Forwards followed before the call is refused as a loop (482). */
    maxChain: z.number().int().min(1).max(20).default(5),
  })
  .strict();

const VoicemailSchema = z
  .object({
    /** sip:HOST:PORT of the voicemail server; absent = busy/unanswered calls end with 486/480. */
    uri: z.string().min(5).max(256).regex(/^sips?:/, 'voicemail.uri must be a sip: URI').optional(),
    /** Code a local user dials to reach their own mailbox. */
    mailboxAccess: z.string().min(1).max(32).default('*98'),
    /**
     * sip:HOST:PORT that answers SUBSCRIBE message-summary (RFC 3842); absent = `uri`. With the
     * Asterisk backend `uri` is Asterisk and this is the voicemail-bridge (AMI MessageWaiting).
     */
    mwiUri: z.string().min(5).max(256).regex(/^sips?:/, 'voicemail.mwiUri must be a sip: URI').optional(),
  })
  .strict();

const UsrlocSchema = z
  .object({
    /** usrloc db_mode: memory (0), write-through (1), write-back (2), db-only (3). */
    dbMode: z.enum(['memory', 'write-through', 'write-back', 'db-only']).default('write-through'),
    /** write-back: how often changed bindings are written (ms). */
    flushInterval: z.number().int().min(100).max(3_600_000).default(10_000),
    /** How often expired rows are deleted from the table (ms). */
    cleanupInterval: z.number().int().min(1_000).max(86_400_000).default(60_000),
    /** location.server_id of the rows this proxy writes. */
    serverId: z.number().int().min(0).max(2_147_483_647).default(0),
  })
  .strict();

export const ProxyConfigSchema = z
  .object({
    listen: z.array(ListenSchema).min(1).prefault(['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060']),
    /**
     * Host names / addresses that `uri==myself` matches besides the listen addresses
     * (the book's `alias=` lines). Empty = the listen addresses only.
     */
    domains: z.array(z.string().min(1).max(253)).default([]),
    /**
     * Address written into Via and Record-Route when listening on a wildcard address
     * (0.0.0.0 / ::) or behind a static NAT (the book's `advertised_address`).
     */
    advertisedAddress: z.string().min(1).max(253).optional(),
    /** The book's `msg:len >= N` check: larger messages are answered 513. */
    maxMessageSize: z.number().int().min(1_024).max(65_535).default(16_384),
    /**
     * Proxy worker threads ("use both cores"). 1 = one event loop does everything; N > 1 = the
     * main thread reads the sockets and steers each call to one of N workers (cluster/).
     */
    workers: z.number().int().min(1).max(64).default(1),
    /**
     * How workers (N > 1) get their messages. `dispatch`: the main thread reads every socket and
     * hands each message to the worker that owns it, and writes what workers send. `reuseport`
     * (UDP-only listen lists; experimental): every worker binds its own SO_REUSEPORT socket on
     * each listen address, receives and sends itself, and passes to the owning worker only what
     * the kernel delivered to the wrong one (cluster/).
     */
    workerModel: z.enum(['dispatch', 'reuseport']).default('dispatch'),
    /**
     * How UDP sockets are read and written. `native` (@voip/udp-native, Linux, built by
     * `npm run build` with a C compiler): a receiver thread reads each socket with recvmmsg and
     * queues every datagram for the thread that owns it (with `workers` > 1 the same steering as
     * `dispatch`), waking it once per batch; each thread sends on the socket itself, one sendmmsg
     * per turn of its event loop. No thread hop and no dgram objects per message (bench/README.md).
     * With `workers` > 1, UDP then bypasses `workerModel` (TCP/TLS keep it). `dgram`: Node's
     * dgram sockets. `auto` (default): native when the addon loads, else dgram (logged).
     */
    udpIo: z.enum(['auto', 'native', 'dgram']).default('auto'),
    /**
     * Young generation of each worker thread's heap in MB (V8 makes each semi-space a third of
     * it). A scavenge copies every young object still alive, and a proxy keeps each call's
     * transactions for 64*T1: with V8's default (semi-spaces growing to 16 MB) scavenges at 1000
     * calls/s paused a worker 6 ms at the median and up to 23 ms (in-process: 14 ms median, 35 ms
     * p99), a large part of the INVITE→200 p99. 16 MB: 2.2-2.6 ms median, 8 ms p99, ≈ 11 ms
     * max, for little CPU; 3 MB: 0.5 ms median, 3.5 ms p99, but 15-30 % more CPU per call
     * (bench/README.md). One event loop (`workers: 1`) runs in a thread of its own for the same
     * reason (`loopThread`). Each thread gets the whole young generation from the start and keeps
     * it (cluster/young-generation.ts: V8's shrinking and regrowing faulted pages in afresh).
     */
    workerYoungGenerationMb: z.number().int().min(1).max(1024).default(16),
    /**
     * `workers: 1` runs its one event loop in a worker thread (the main thread only starts it and
     * relays signals), so `workerYoungGenerationMb` sizes its young generation: V8 fixes that
     * when an isolate is created, and the main isolate's default on a machine with much memory
     * is semi-spaces of up to 64 MB (Node 24: a 128 MB new space), whose scavenges copy every
     * lingering transaction at once. Measured at 1000 calls/s, one event loop: p99 INVITE→200
     * 28-32 ms on the main thread, 8-12 ms with semi-spaces of 8 MB (bench/README.md). false =
     * the main thread runs the proxy (then `node --max-semi-space-size=N` sizes it).
     */
    loopThread: z.boolean().default(true),
    /**
     * Synthetic calls run through a throw-away in-memory stack before the proxy (each worker)
     * takes traffic, so V8 has optimised the call path by the first real call (warm-up.ts): a
     * freshly started proxy otherwise queued calls for 1-2 s at 1000 calls/s (its first calls cost
     * 650-790 µs of CPU each instead of 170-300 µs; 1000 calls take ≈ 0.5 s at start). 0 = off.
     */
    warmUpCalls: z.number().int().min(0).max(100_000).default(1000),
    /** Kernel receive buffer for UDP sockets; bursts above a few thousand calls/s need MBs. */
    udpReceiveBufferSize: z.number().int().min(65_536).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
    timers: TimersSchema.prefault({}),
    registrar: RegistrarSchema.prefault({}),
    /**
     * `stateful` relays with transactions (t_relay); `stateless` forwards like the book's
     * `forward()`: no retransmission handling, no failure route, no forking.
     */
    relayMode: z.enum(['stateful', 'stateless']).default('stateful'),
    /** Adds the book's `P-hint:` tracing headers (rr-enforced, outbound, usrloc applied). */
    tracingHints: z.boolean().default(false),
    /**
     * Product token in Server / User-Agent headers of messages we generate; empty = no such
     * header (scanners such as svmap fingerprint it).
     */
    serverHeader: z.string().max(128).default('voip-stack sip-proxy'),
    accounting: z
      .object({
        /**
         * Append-only journal of call records (the embedded default; `radius-acct --journal`
         * reads it). Unset: no accounting unless a database is configured.
         */
        journal: z.string().min(1).max(4096).optional(),
        /** fdatasync each batch; only benchmarks turn it off. */
        fsync: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        /** host:port of the admin HTTP API (health, metrics, location); empty disables it. */
        listen: z.string().max(300).default('127.0.0.1:0'),
      })
      .strict()
      .prefault({}),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    db: DbSchema.default({ connectAttempts: 10 }),
    auth: AuthSchema.prefault({}),
    /**
     * Where state that must survive restarts lives (the generated nonce secret; `admin-url`,
     * where sipctl finds the running proxy's admin API, docs/sipctl.md). Default:
     * /var/lib/sip-proxy when that directory exists and is writable, else .sip-proxy in the
     * working directory.
     */
    stateDir: z.string().min(1).max(4096).optional(),
    tls: TlsSchema.prefault({}),
    pike: PikeSchema.prefault({}),
    secfilter: SecfilterSchema.prefault({}),
    overload: OverloadSchema.prefault({}),
    nat: NatSchema.prefault({}),
    rtpengine: RtpengineSchema.prefault({}),
    usrloc: UsrlocSchema.default({ dbMode: 'write-through', flushInterval: 10_000, cleanupInterval: 60_000, serverId: 0 }),
    aliases: z.object({ appendBranches: z.boolean().default(false) }).strict().default({ appendBranches: false }),
    /** domain table reload period (ms); 0 = only at start and on POST /domain/reload. */
    domainReloadInterval: z.number().int().min(0).max(86_400_000).default(10_000),
    /**
     * Which configuration routes requests: `provider` (book ch. 7–8: gateways, LCR, ACLs,
     * forwarding, voicemail), `ch5` (database + digest auth) or `standard` (ch. 4). Default:
     * provider with a database / provisioning file (`db.url`), standard without.
     */
    route: z.enum(['provider', 'ch5', 'standard']).optional(),
    permissions: PermissionsSchema.prefault({}),
    dialplan: DialPlanSchema.prefault({}),
    lcr: LcrSchema.prefault({}),
    callForward: CallForwardSchema.prefault({}),
    voicemail: VoicemailSchema.prefault({}),
  })
  .strict();

export type ProxyConfig = Readonly<z.output<typeof ProxyConfigSchema>>;

/** Thrown with every validation problem listed, one per line, path first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Environment overrides: SIP_PROXY_<KEY> for top-level scalars, SIP_PROXY_LISTEN comma-separated. */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.SIP_PROXY_LISTEN) out.listen = env.SIP_PROXY_LISTEN.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.SIP_PROXY_DOMAINS) out.domains = env.SIP_PROXY_DOMAINS.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.SIP_PROXY_ADVERTISED_ADDRESS) out.advertisedAddress = env.SIP_PROXY_ADVERTISED_ADDRESS;
  if (env.SIP_PROXY_LOG_LEVEL) out.logLevel = env.SIP_PROXY_LOG_LEVEL;
  if (env.SIP_PROXY_ADMIN_LISTEN) out.admin = { listen: env.SIP_PROXY_ADMIN_LISTEN };
  if (env.SIP_PROXY_RELAY_MODE) out.relayMode = env.SIP_PROXY_RELAY_MODE;
  if (env.SIP_PROXY_WORKERS) out.workers = Number(env.SIP_PROXY_WORKERS);
  if (env.SIP_PROXY_UDP_IO) out.udpIo = env.SIP_PROXY_UDP_IO;
  if (env.SIP_DB_URL) out.db = { url: env.SIP_DB_URL };
  if (env.SIP_PROXY_AUTH_SECRET) out.auth = { nonceSecret: env.SIP_PROXY_AUTH_SECRET };
  if (env.SIP_PROXY_STATE_DIR) out.stateDir = env.SIP_PROXY_STATE_DIR;
  if (env.SIP_PROXY_ROUTE) out.route = env.SIP_PROXY_ROUTE;
  if (env.SIP_PROXY_USRLOC_DB_MODE) out.usrloc = { dbMode: env.SIP_PROXY_USRLOC_DB_MODE };
  if (env.SIP_PROXY_ACC_JOURNAL) out.accounting = { journal: env.SIP_PROXY_ACC_JOURNAL };
  // The compose lab points voicemail at the built-in bridge or at Asterisk by environment
  // alone (docker/lab/asterisk.env), keeping the rest of the mounted config file.
  // SIP_PROXY_VOICEMAIL_MWI_URI: with Asterisk as voicemail.uri, the bridge serves MWI.
  if (env.SIP_PROXY_VOICEMAIL_URI || env.SIP_PROXY_VOICEMAIL_MWI_URI) {
    out.voicemail = {
      ...(env.SIP_PROXY_VOICEMAIL_URI ? { uri: env.SIP_PROXY_VOICEMAIL_URI } : {}),
      ...(env.SIP_PROXY_VOICEMAIL_MWI_URI ? { mwiUri: env.SIP_PROXY_VOICEMAIL_MWI_URI } : {}),
    };
  }
  return out;
}

export interface LoadConfigOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Command-line values; they win over the file and the environment. */
  cli?: Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Overrides win key by key inside sections (SIP_PROXY_AUTH_SECRET must not drop auth.algorithms of the file). */
function mergeSections(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? { ...b, ...v } : v;
  }
  return out;
}

/** Reads the file (YAML or JSON), applies env then CLI overrides, validates, freezes. */
export function loadConfig(opts: LoadConfigOptions = {}): ProxyConfig {
  let raw: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(err as Error).message}`);
    }
    try {
      const parsed: unknown = parseYaml(text);
      if (parsed != null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
        throw new Error('top level must be a mapping');
      }
      raw = (parsed ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config file ${opts.file} is not valid YAML/JSON: ${(err as Error).message}`);
    }
  }
  const merged = mergeSections(mergeSections(raw, envOverrides(opts.env ?? {})), opts.cli ?? {});
  return parseConfig(merged, opts.file ?? '(defaults)');
}

export function parseConfig(input: unknown, origin = '(inline)'): ProxyConfig {
  const result = ProxyConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration in ${origin}:\n${lines.join('\n')}`);
  }
  return deepFreeze(result.data);
}
