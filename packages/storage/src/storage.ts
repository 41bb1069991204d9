/**
 * The storage layer of the chapter-5 configuration: one interface, two implementations —
 * `MemoryStorage` (quick start and unit tests, provisioned from a YAML/JSON file) and
 * `MysqlStorage` (Kamailio 5.x tables through mysql2). Row shapes follow Kamailio's columns
 * (snake_case columns become camelCase fields) so an operator's existing OpenSER/Kamailio
 * database maps 1:1.
 *
 * Layering: storage sits above core and below routing/modules; it knows SQL rows, not SIP
 * messages. Modules (auth, aliases, domain, location persistence) turn rows into SIP behaviour.
 */

/** `subscriber`: one account that can authenticate (auth_db). */
export interface Subscriber {
  username: string;
  domain: string;
  /** Plaintext password; '' when only HA1 values are stored (auth_db calculate_ha1=0). */
  password: string;
  /** MD5(username:realm:password) (RFC 2617 §3.2.2.2), realm = domain. */
  ha1: string;
  /** MD5(username@domain:realm:password): for clients that send user@domain as username. */
  ha1b: string;
  /** OpenSER 1.x column; null when the table has no such column (Kamailio 5.x schema). */
  emailAddress: string | null;
}

/** `dbaliases`: alias_username@alias_domain stands for username@domain (alias_db). */
export interface AliasRow {
  aliasUsername: string;
  aliasDomain: string;
  username: string;
  domain: string;
}

/** `domain`: a SIP domain this installation serves (domain module). */
export interface DomainRow {
  domain: string;
  did: string | null;
  lastModified: number;
}

/** `grp`: membership of an account in an ACL group (group module: local, ld, int …). */
export interface GroupRow {
  username: string;
  domain: string;
  grp: string;
  lastModified: number;
}

/** `usr_preferences`: one attribute-value pair of an account (avpops). type 0 = string, 1 = integer. */
export interface PreferenceRow {
  uuid: string;
  username: string;
  domain: string;
  attribute: string;
  type: number;
  value: string;
  lastModified: number;
}

/**
 * `location`: one contact binding (usrloc). Times are epoch milliseconds; `expires` 0 means a
 * permanent binding (Kamailio stores it as the zero DATETIME of the epoch).
 */
export interface LocationRow {
  ruid: string;
  username: string;
  /** null when the registrar runs without domains (usrloc use_domain=0). */
  domain: string | null;
  contact: string;
  received: string | null;
  path: string | null;
  expires: number;
  q: number;
  callid: string;
  cseq: number;
  lastModified: number;
  flags: number;
  cflags: number;
  userAgent: string;
  socket: string | null;
  methods: number | null;
  instance: string | null;
  regId: number;
  serverId: number;
  connectionId: number;
  keepalive: number;
  partition: number;
}

/** `trusted` (permissions module): a peer whose requests skip digest auth (allow_trusted). */
export interface TrustedRow {
  id: number;
  /** Source IP address of the peer (IPv4 or IPv6 text). */
  srcIp: string;
  /** any, udp, tcp, tls, sctp, ws, wss (Kamailio's `proto`, lower case). */
  proto: string;
  /** Regular expression the From URI must match; null = any. */
  fromPattern: string | null;
  /** Regular expression the R-URI must match; null = any. */
  ruriPattern: string | null;
  /** Free text copied to the request (peer_tag AVP): e.g. the gateway's name. */
  tag: string | null;
  priority: number;
}

/** `address` (permissions module): network ranges in groups (allow_source_address, allow_trusted fallback grp 1). */
export interface AddressRow {
  id: number;
  grp: number;
  ipAddr: string;
  /** Prefix length (32 = one IPv4 host, 128 = one IPv6 host). */
  mask: number;
  /** 0 = any port. */
  port: number;
  tag: string | null;
}

/** `lcr_gw`: one gateway of an LCR instance (lcr module, Kamailio 5.x). */
export interface LcrGatewayRow {
  id: number;
  lcrId: number;
  gwName: string | null;
  ipAddr: string | null;
  hostname: string | null;
  /** null = default port of the transport. */
  port: number | null;
  /** URI parameters appended to the gateway URI, e.g. ";user=phone". */
  params: string | null;
  /** 1 = sip, 2 = sips; null = sip. */
  uriScheme: number | null;
  /** 1 = UDP, 2 = TCP, 3 = TLS, 4 = SCTP; null = UDP. */
  transport: number | null;
  /** Leading digits removed from the R-URI user before prefix is added. */
  strip: number | null;
  prefix: string | null;
  tag: string | null;
  flags: number;
  /** Non-null and non-zero: the gateway is out of service (skipped by load_gws). */
  defunct: number | null;
}

/** `lcr_rule`: a prefix (and optional From pattern) that routes to targets (lcr module). */
export interface LcrRuleRow {
  id: number;
  lcrId: number;
  /** Longest matching prefix wins; null/'' matches every number. */
  prefix: string | null;
  /** Regular expression on the caller's URI; null = any caller. */
  fromUri: string | null;
  /** Regular expression on the R-URI; null = any. */
  requestUri: string | null;
  mtTvalue: string | null;
  /** 1 = no shorter-prefix rules are considered after this one matches. */
  stopper: number;
  enabled: number;
}

/** `lcr_rule_target`: a gateway of a rule, with priority (lower first) and weight. */
export interface LcrRuleTargetRow {
  id: number;
  lcrId: number;
  ruleId: number;
  gwId: number;
  priority: number;
  weight: number;
}

/** `speed_dial` (speeddial module): username@domain dials sd_username and reaches new_uri. */
export interface SpeedDialRow {
  id: number;
  username: string;
  domain: string;
  sdUsername: string;
  sdDomain: string;
  newUri: string;
  fname: string;
  lname: string;
  description: string;
}

/** `dialplan` (dialplan module): one translation rule of dial plan `dpid`. */
export interface DialplanRow {
  id: number;
  dpid: number;
  /** Lower number = tried first. */
  pr: number;
  /** 0 = equal, 1 = regular expression, 2 = fnmatch. */
  matchOp: number;
  matchExp: string;
  /** 0 = any length. */
  matchLen: number;
  substExp: string;
  replExp: string;
  /** Free text returned with a match; we keep "group=<acl group>" there. */
  attrs: string;
}

/** Create/remove helpers take a row without its database id. */
export type NewRow<T extends { id: number }> = Omit<T, 'id'>;

export interface TrustedRepository {
  list(): Promise<TrustedRow[]>;
  /** The new row's id. Fails with STORAGE_ERR_DUPLICATE for an identical src_ip, proto, from_pattern, ruri_pattern. */
  add(row: NewRow<TrustedRow>): Promise<number>;
  /** Removes every row of this source IP; the number removed. */
  removeBySrcIp(srcIp: string): Promise<number>;
}

export interface AddressRepository {
  list(): Promise<AddressRow[]>;
  /** Fails with STORAGE_ERR_DUPLICATE when the same grp, ip_addr, mask and port exist. */
  add(row: NewRow<AddressRow>): Promise<number>;
  remove(id: number): Promise<boolean>;
}

/** The LCR tables; reads are whole-table loads (the proxy keeps them in memory, like Kamailio's lcr). */
export interface LcrRepository {
  gateways(): Promise<LcrGatewayRow[]>;
  rules(): Promise<LcrRuleRow[]>;
  targets(): Promise<LcrRuleTargetRow[]>;
  /** Fails with STORAGE_ERR_DUPLICATE when a gateway of that name exists in the LCR instance. */
  addGateway(row: NewRow<LcrGatewayRow>): Promise<number>;
  /** Removes the gateway and its rule targets; false when no such gateway. */
  removeGateway(lcrId: number, gwName: string): Promise<boolean>;
  /** Fails with STORAGE_ERR_DUPLICATE for the same (lcr_id, prefix, from_uri), NULL equal to NULL. */
  addRule(row: NewRow<LcrRuleRow>): Promise<number>;
  /** Removes the rule and its targets. */
  removeRule(id: number): Promise<boolean>;
  /** Fails with STORAGE_ERR_DUPLICATE when the gateway is already a target of the rule. */
  addTarget(row: NewRow<LcrRuleTargetRow>): Promise<number>;
}

export interface SpeedDialRepository {
  /** The entry username@domain dialled as sdUsername, or null. */
  lookup(username: string, domain: string, sdUsername: string): Promise<SpeedDialRow | null>;
  list(account?: { username: string; domain: string }): Promise<SpeedDialRow[]>;
  /** Fails with STORAGE_ERR_DUPLICATE when the short number is taken for that user. */
  add(row: NewRow<SpeedDialRow>): Promise<number>;
  remove(username: string, domain: string, sdUsername: string): Promise<boolean>;
}

export interface DialplanRepository {
  list(dpid?: number): Promise<DialplanRow[]>;
  add(row: NewRow<DialplanRow>): Promise<number>;
  remove(id: number): Promise<boolean>;
}

export interface SubscriberRepository {
  get(username: string, domain: string): Promise<Subscriber | null>;
  /** Fails with STORAGE_ERR_DUPLICATE when the account exists. */
  add(s: Subscriber): Promise<void>;
  /** Replaces password, ha1, ha1b; false when the account does not exist. */
  setCredentials(username: string, domain: string, password: string, ha1: string, ha1b: string): Promise<boolean>;
  remove(username: string, domain: string): Promise<boolean>;
  list(domain?: string): Promise<Subscriber[]>;
}

export interface AliasRepository {
  /** Targets of alias@domain, in table order (alias_db may fork to several). */
  resolve(aliasUsername: string, aliasDomain: string): Promise<AliasRow[]>;
  /** Fails with STORAGE_ERR_DUPLICATE when the same alias already points to the same target. */
  add(row: AliasRow): Promise<void>;
  /** Removes every row of the alias; the number removed. */
  remove(aliasUsername: string, aliasDomain: string): Promise<number>;
  /** All aliases, or those pointing at username@domain. */
  list(target?: { username: string; domain: string }): Promise<AliasRow[]>;
}

export interface DomainRepository {
  list(): Promise<DomainRow[]>;
  add(domain: string, did?: string | null): Promise<void>;
  remove(domain: string): Promise<boolean>;
}

export interface GroupRepository {
  groupsOf(username: string, domain: string): Promise<string[]>;
  grant(username: string, domain: string, grp: string): Promise<void>;
  /** Without grp: every group of the account. The number of rows removed. */
  revoke(username: string, domain: string, grp?: string): Promise<number>;
  list(account?: { username: string; domain: string }): Promise<GroupRow[]>;
}

export interface PreferenceRepository {
  list(filter?: { username?: string; domain?: string; attribute?: string }): Promise<PreferenceRow[]>;
  add(row: Omit<PreferenceRow, 'lastModified'>): Promise<void>;
  /** Without attribute: every preference of the account. The number removed. */
  remove(username: string, domain: string, attribute?: string): Promise<number>;
}

export interface LocationRepository {
  /** Insert or replace by ruid (the unique key). */
  upsert(row: LocationRow): Promise<void>;
  /** Many rows in one round trip (write-back flush). */
  upsertMany(rows: readonly LocationRow[]): Promise<void>;
  remove(ruid: string): Promise<boolean>;
  removeMany(ruids: readonly string[]): Promise<number>;
  /** Bindings of one AOR (db-only mode reads them per request). */
  byAor(username: string, domain: string | null): Promise<LocationRow[]>;
  /** Every binding not expired at `now` (permanent ones included): start-up load. */
  live(now: number): Promise<LocationRow[]>;
  /** Deletes bindings that expired before `now`; permanent ones stay. The number deleted. */
  removeExpired(now: number): Promise<number>;
}

/** Result of creating or completing the schema. */
export interface SchemaReport {
  created: string[];
  existing: string[];
  altered: string[];
}

export interface Storage {
  readonly kind: 'memory' | 'mysql';
  /** Where the data lives, without secrets (for logs and `sipctl`). */
  readonly description: string;
  readonly subscribers: SubscriberRepository;
  readonly aliases: AliasRepository;
  readonly domains: DomainRepository;
  readonly groups: GroupRepository;
  readonly preferences: PreferenceRepository;
  readonly location: LocationRepository;
  readonly trusted: TrustedRepository;
  readonly addresses: AddressRepository;
  readonly lcr: LcrRepository;
  readonly speedDial: SpeedDialRepository;
  readonly dialplan: DialplanRepository;
  /** Creates missing tables (and the version rows); an existing Kamailio database is completed, not replaced. */
  initSchema(): Promise<SchemaReport>;
  /** table_name -> table_version from the `version` table. */
  versions(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** The table versions this code reads and writes (Kamailio 5.6). A mismatch refuses to start. */
export const REQUIRED_TABLE_VERSIONS: Readonly<Record<string, number>> = {
  subscriber: 7,
  location: 9,
  dbaliases: 1,
  domain: 2,
  grp: 2,
  usr_preferences: 2,
};

/** Tables of the provider route (chapters 7–8); checked when the provider route runs. */
export const PROVIDER_TABLE_VERSIONS: Readonly<Record<string, number>> = {
  trusted: 6,
  address: 6,
  lcr_gw: 3,
  lcr_rule: 3,
  lcr_rule_target: 1,
  speed_dial: 2,
  dialplan: 2,
};
