/**
 * SIPp scenarios of the NAT tests (nat-call, nat-relay), generated per run (addresses, users and the RTP party's
 * command line differ). The phones write the Via and Contact a NATed phone writes: its private
 * address and no `rport`, so everything that reaches it depends on the proxy's NAT handling.
 *
 * RTP: once a call is up, each phone starts `rtp-endpoint-cli.js` (SIPp `exec`) in its own
 * namespace, bound to the port its SDP announced and sending to the address/port of the SDP it
 * received; the CLI writes what it received, and from where, into a JSON file.
 *
 * The scenario builders below read as call flows; the SIP messages they send are written by the
 * few message builders that follow (request, inDialog, hopByHopAck, response).
 */

export interface RtpExec {
  /** node + CLI path. */
  node: string;
  cli: string;
  bind: string;
  port: number;
  count: number;
  out: string;
}

/** A user's digest credentials (the phones answer 401/407 with SIPp's `[authentication]`). */
export interface Credentials {
  user: string;
  password: string;
}

/** `version` is the o= line's sess-version: RFC 3264 §8 has a new offer in a dialog raise it. */
function sdp(port: number, version = 1): string {
  return ['v=0', `o=- 1 ${version} IN IP4 [local_ip]`, 's=-', 'c=IN IP4 [local_ip]', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv'].join('\n');
}

/** The end of a message without a body. */
const NO_BODY = 'Content-Length: 0\n\n';

/** The end of a message carrying an SDP offer or answer (see sdp() for `version`). */
function sdpBody(port: number, version = 1): string {
  return `Content-Type: application/sdp\nContent-Length: [len]\n\n${sdp(port, version)}\n`;
}

const MAX_FORWARDS = 'Max-Forwards: 70\n';

/** The phone's Contact: its private address, as a phone behind a NAT that knows nothing of it writes. */
function contact(user: string): string {
  return `Contact: <sip:${user}@[local_ip]:[local_port]>\n`;
}

/** SIPp's digest answer to the last 401/407, as a header line. */
function credentials(auth: Credentials): string {
  return `[authentication username=${auth.user} password=${auth.password}]\n`;
}

/** Remembers the c= address and m= port of the received SDP in $mip / $mport. */
const SDP_EREG = `
    <action>
      <ereg regexp="c=IN IP4 ([0-9.]+)" search_in="body" check_it="true" assign_to="cline,mip"/>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="mline,mport"/>
    </action>`;

/** SIPp refuses a variable that is only assigned: the whole-match captures are referenced here. */
const SDP_REFERENCE = `
  <Reference variables="cline,mline"/>`;

/** Receives a request or response (`what`: its SIPp attributes) that carries SDP, remembering its c=/m=. */
function recvSdp(what: string): string {
  return `
  <recv ${what}>${SDP_EREG}
  </recv>`;
}

function execRtp(r: RtpExec): string {
  return `
  <nop>
    <action>
      <exec command="${r.node} ${r.cli} ${r.bind} ${r.port} [$mip] [$mport] ${r.count} ${r.out}"/>
    </action>
  </nop>`;
}

function scenario(name: string, body: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="${name}">${body}
</scenario>
`;
}

/** Who a phone's requests of one call are from and to; `fromTag` is the letter in its From tag. */
interface Party {
  from: string;
  fromTag: string;
  to: string;
}

/**
 * A request as the phones write it: the request line, a Via with the private address and no
 * rport (branch `z9hG4bK-[pid]-[call_number]-<branch>`), From with its tag, To (with the
 * callee's tag when `toTag`), Call-ID, CSeq; `rest` is the headers that follow and the body.
 */
function request(p: Party, line: { method: string; uri: string; branch: string; cseq: number; toTag?: boolean }, rest: string): string {
  return `<![CDATA[
${line.method} ${line.uri} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-${line.branch}
From: <${p.from}>;tag=[pid]${p.fromTag}[call_number]
To: <${p.to}>${line.toTag === true ? '[peer_tag_param]' : ''}
Call-ID: [call_id]
CSeq: ${line.cseq} ${line.method}
${rest}]]>`;
}

/** A request within the dialog: to the remote target, along the Record-Route ([next_url], [routes]). */
function inDialog(p: Party, method: string, branch: string, cseq: number, rest: string): string {
  return request(p, { method, uri: '[next_url]', branch, cseq, toTag: true }, `[routes]\n${MAX_FORWARDS}${rest}`);
}

/**
 * RFC 3261 §17.1.1.3: the ACK of a non-2xx final response to an INVITE belongs to the INVITE
 * transaction: same Request-URI, branch and CSeq number, the To tag of the response.
 */
function hopByHopAck(p: Party, branch: string, cseq: number): string {
  return request(p, { method: 'ACK', uri: p.to, branch, cseq, toTag: true }, `${MAX_FORWARDS}${NO_BODY}`);
}

/**
 * The INVITE answered with a 407 and sent again with credentials (RFC 3261 §22.3, a new CSeq):
 * `invite(n, auth)` writes INVITE number n (branch `<branch>n`) with the credentials line `auth`.
 */
function challengedInvite(p: Party, branch: string, auth: Credentials, invite: (n: number, auth: string) => string): string {
  return `
  <send retrans="500">${invite(1, '')}</send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send>${hopByHopAck(p, `${branch}1`, 1)}</send>
  <send retrans="500">${invite(2, credentials(auth))}</send>`;
}

/**
 * A response to the last request received, copying its Via, From, To, Call-ID and CSeq (`via`
 * and `cseq` replace theirs); `toTag` is the letter of the tag the phone adds to To.
 */
function response(status: string, h: { toTag?: string; recordRoute?: boolean; contact?: string; via?: string; cseq?: string }, rest = NO_BODY): string {
  return `<![CDATA[
SIP/2.0 ${status}
${h.via ?? '[last_Via:]'}
[last_From:]
[last_To:]${h.toTag === undefined ? '' : `;tag=[pid]${h.toTag}[call_number]`}
[last_Call-ID:]
${h.cseq ?? '[last_CSeq:]'}
${h.recordRoute === true ? '[last_Record-Route:]\n' : ''}${h.contact === undefined ? '' : contact(h.contact)}${rest}]]>`;
}

/** The callee's 180 to the INVITE: its To tag, the Record-Route and its Contact (the dialog's route set, RFC 3261 §12.1.1). */
function ringing(user: string): string {
  return `
  <send>${response('180 Ringing', { toTag: 'U', recordRoute: true, contact: user })}</send>`;
}

/** REGISTER with digest (401 round trip); the 200's Contact expires is checked by the test. */
export function registerScenario(user: string, password: string, domain: string): string {
  const aor = `sip:${user}@${domain}`;
  const req = (cseq: number, auth: string): string => request(
    { from: aor, fromTag: 'R', to: aor },
    { method: 'REGISTER', uri: `sip:${domain}`, branch: `r${cseq}`, cseq },
    `${contact(user)}${auth}${MAX_FORWARDS}Expires: 3600\nUser-Agent: natphone\n${NO_BODY}`,
  );
  return scenario('register behind NAT', `
  <send retrans="500">${req(1, '')}</send>
  <recv response="401" auth="true"/>
  <send retrans="500">${req(2, credentials({ user, password }))}</send>
  <recv response="200"/>`);
}

/** A second offer/answer in the call (RFC 3264 §8): new media ports, and RTP on them. */
export interface Reoffer {
  mediaPort: number;
  rtp: RtpExec;
}

/**
 * UAS phone: answers keepalive OPTIONS (each its own SIPp call) and one INVITE with SDP, runs
 * the RTP party after the ACK, answers the BYE. With `reoffer`, it first answers the caller's
 * re-INVITE with a new port (SDP version 2) and runs a second RTP party after its ACK.
 */
export function uasScenario(user: string, mediaPort: number, rtp: RtpExec, reoffer?: Reoffer): string {
  const reinvite = reoffer === undefined
    ? ''
    : `${recvSdp('request="INVITE"')}
  <send retrans="500">${response('200 OK', { contact: user }, sdpBody(reoffer.mediaPort, 2))}</send>
  <recv request="ACK"/>${execRtp(reoffer.rtp)}`;
  return scenario('phone answering', `
  <recv request="OPTIONS" optional="true" next="options"/>${recvSdp('request="INVITE"')}${ringing(user)}
  <send retrans="500">${response('200 OK', { toTag: 'U', recordRoute: true, contact: user }, sdpBody(mediaPort))}</send>
  <recv request="ACK"/>${execRtp(rtp)}${reinvite}
  <recv request="BYE"/>
  <send next="done">${response('200 OK', {})}</send>
  <label id="options"/>
  <send>${response('200 OK', { toTag: 'O' })}</send>
  <label id="done"/>${SDP_REFERENCE}`);
}

/**
 * UAC phone: INVITE with SDP (answering a 407 with credentials when `auth` is given), ACK, RTP
 * for `holdMs`, BYE — in-dialog requests along the Record-Route ([routes], [next_url]). With
 * `reoffer`, before the BYE a re-INVITE offers a new port (SDP version 2), then RTP again on
 * the ports of that second offer/answer for `holdMs`.
 */
export function uacScenario(o: { from: string; to: string; mediaPort: number; holdMs: number; rtp: RtpExec; auth?: Credentials; reoffer?: Reoffer }): string {
  const p: Party = { from: o.from, fromTag: 'C', to: o.to };
  const invite = (n: number, auth: string): string => request(
    p,
    { method: 'INVITE', uri: o.to, branch: `i${n}`, cseq: n },
    `${contact('caller')}${auth}${MAX_FORWARDS}${sdpBody(o.mediaPort)}`,
  );
  const reinvite = o.reoffer === undefined
    ? ''
    : `
  <send retrans="500">${inDialog(p, 'INVITE', 'd3', 3, `${contact('caller')}${sdpBody(o.reoffer.mediaPort, 2)}`)}</send>
  <recv response="100" optional="true"/>${recvSdp('response="200"')}
  <send>${inDialog(p, 'ACK', 'd3', 3, NO_BODY)}</send>${execRtp(o.reoffer.rtp)}
  <pause milliseconds="${o.holdMs}"/>`;
  const byeCseq = o.reoffer === undefined ? 3 : 4;
  const challenge = o.auth
    ? challengedInvite(p, 'i', o.auth, invite)
    : `
  <send retrans="500">${invite(2, '')}</send>`;
  return scenario('phone calling', `${challenge}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>${recvSdp('response="200" rrs="true"')}
  <send>${inDialog(p, 'ACK', 'a2', 2, NO_BODY)}</send>${execRtp(o.rtp)}
  <pause milliseconds="${o.holdMs}"/>${reinvite}
  <send retrans="500">${inDialog(p, 'BYE', `d${byeCseq}`, byeCseq, NO_BODY)}</send>
  <recv response="200"/>${SDP_REFERENCE}`);
}

/** UAC phone whose INVITE must fail with `status` (ACKed hop by hop, RFC 3261 §17.1.1.3). */
export function uacExpectFailureScenario(o: { from: string; to: string; status: number }): string {
  const p: Party = { from: o.from, fromTag: 'F', to: o.to };
  return scenario('call that must fail', `
  <send retrans="500">${request(p, { method: 'INVITE', uri: o.to, branch: 'f1', cseq: 1 }, `${contact('caller')}${MAX_FORWARDS}${sdpBody(40_002)}`)}</send>
  <recv response="100" optional="true"/>
  <recv response="${o.status}"/>
  <send>${hopByHopAck(p, 'f1', 1)}</send>`);
}

/**
 * The callee's check that the offer it got was anchored: the SDP's c= names the relay's media
 * address, not the caller's (private) one. SIPp fails the call when the regexp does not match.
 */
function anchoredCheck(relayIp: string): string {
  return `
      <ereg regexp="c=IN IP4 ${relayIp.replaceAll('.', '\\.')}[[:cntrl:]]" search_in="body" check_it="true" assign_to="anchored"/>`;
}

/** The INVITE's Via block and CSeq number, for a final response sent after a CANCEL (§9.2). */
const INVITE_VIAS_CSEQ = `
      <ereg regexp="Via: [^[:cntrl:]]*([[:cntrl:]]+Via: [^[:cntrl:]]*)*" search_in="msg" check_it="true" assign_to="vias"/>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" check_it="true" assign_to="cseqnum"/>`;

/**
 * A callee that never answers: INVITE (its offer must come through the relay at `relayIp`) →
 * 180 → either CANCEL → 200 (CANCEL) → 487 (INVITE) → ACK, or a final `status` (486 Busy Here)
 * → ACK. The ACK is the proxy's hop-by-hop ACK (RFC 3261 §17.1.1.3).
 */
export function uasUnansweredScenario(o: { user: string; relayIp: string; end: 'cancel' | number }): string {
  // After a CANCEL the last message is the CANCEL: the INVITE's Via and CSeq come from the ereg.
  const final = (status: number, reason: string): string => `
  <send retrans="500">${response(`${status} ${reason}`, { toTag: 'U', via: '[$vias]', cseq: 'CSeq: [$cseqnum] INVITE' })}</send>`;
  const end = o.end === 'cancel'
    ? `
  <recv request="CANCEL"/>
  <send>${response('200 OK', { toTag: 'U' })}</send>${final(487, 'Request Terminated')}`
    : final(o.end, o.end === 486 ? 'Busy Here' : 'Failed');
  return scenario('phone that does not answer', `
  <recv request="INVITE">
    <action>${anchoredCheck(o.relayIp)}${INVITE_VIAS_CSEQ}
    </action>
  </recv>${ringing(o.user)}${end}
  <recv request="ACK"/>
  <Reference variables="anchored"/>`);
}

/**
 * A caller (answering the 407 with credentials) whose INVITE is not answered: after the 180 it
 * sends CANCEL (same branch and CSeq number, RFC 3261 §9.1) and gets 200 (CANCEL) then 487,
 * or it gets the final `status` straight away; either final response is ACKed (§17.1.1.3).
 */
export function uacUnansweredScenario(o: { from: string; to: string; auth: Credentials; end: 'cancel' | number }): string {
  const p: Party = { from: o.from, fromTag: 'C', to: o.to };
  const invite = (n: number, auth: string): string => request(
    p,
    { method: 'INVITE', uri: o.to, branch: `u${n}`, cseq: n },
    `${MAX_FORWARDS}${contact('caller')}${auth}${sdpBody(40_000)}`,
  );
  const end = o.end === 'cancel'
    ? `
  <recv response="180"/>
  <send retrans="500">${request(p, { method: 'CANCEL', uri: o.to, branch: 'u2', cseq: 2 }, `${MAX_FORWARDS}${NO_BODY}`)}</send>
  <recv response="200"/>
  <recv response="487"/>`
    : `
  <recv response="180" optional="true"/>
  <recv response="${o.end}"/>`;
  return scenario('call that is not answered', `${challengedInvite(p, 'u', o.auth, invite)}
  <recv response="100" optional="true"/>${end}
  <send>${hopByHopAck(p, 'u2', 2)}</send>`);
}
