/**
 * SIPp scenarios of the NAT tests (nat-call, nat-relay), generated per run (addresses, users and the RTP party's
 * command line differ). The phones write the Via and Contact a NATed phone writes: its private
 * address and no `rport`, so everything that reaches it depends on the proxy's NAT handling.
 *
 * RTP: once a call is up, each phone starts `rtp-endpoint-cli.js` (SIPp `exec`) in its own
 * namespace, bound to the port its SDP announced and sending to the address/port of the SDP it
 * received; the CLI writes what it received, and from where, into a JSON file.
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

/** `version` is the o= line's sess-version: RFC 3264 §8 has a new offer in a dialog raise it. */
function sdp(port: number, version = 1): string {
  return ['v=0', `o=- 1 ${version} IN IP4 [local_ip]`, 's=-', 'c=IN IP4 [local_ip]', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv'].join('\n');
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

function execRtp(r: RtpExec): string {
  return `
  <nop>
    <action>
      <exec command="${r.node} ${r.cli} ${r.bind} ${r.port} [$mip] [$mport] ${r.count} ${r.out}"/>
    </action>
  </nop>`;
}

/** REGISTER with digest (401 round trip); the 200's Contact expires is checked by the test. */
export function registerScenario(user: string, password: string, domain: string): string {
  const req = (cseq: number, auth: string): string => `<![CDATA[
REGISTER sip:${domain} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-r${cseq}
From: <sip:${user}@${domain}>;tag=[pid]R[call_number]
To: <sip:${user}@${domain}>
Call-ID: [call_id]
CSeq: ${cseq} REGISTER
Contact: <sip:${user}@[local_ip]:[local_port]>
${auth}Max-Forwards: 70
Expires: 3600
User-Agent: natphone
Content-Length: 0

]]>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register behind NAT">
  <send retrans="500">${req(1, '')}</send>
  <recv response="401" auth="true"/>
  <send retrans="500">${req(2, `[authentication username=${user} password=${password}]\n`)}</send>
  <recv response="200"/>
</scenario>
`;
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
    : `
  <recv request="INVITE">${SDP_EREG}
  </recv>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:${user}@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

${sdp(reoffer.mediaPort, 2)}
]]></send>
  <recv request="ACK"/>${execRtp(reoffer.rtp)}`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="phone answering">
  <recv request="OPTIONS" optional="true" next="options"/>
  <recv request="INVITE">${SDP_EREG}
  </recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]U[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:${user}@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]U[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:${user}@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

${sdp(mediaPort)}
]]></send>
  <recv request="ACK"/>${execRtp(rtp)}${reinvite}
  <recv request="BYE"/>
  <send next="done"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="options"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]O[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="done"/>${SDP_REFERENCE}
</scenario>
`;
}

/**
 * UAC phone: INVITE with SDP (answering a 407 with credentials when `auth` is given), ACK, RTP
 * for `holdMs`, BYE — in-dialog requests along the Record-Route ([routes], [next_url]). With
 * `reoffer`, before the BYE a re-INVITE offers a new port (SDP version 2), then RTP again on
 * the ports of that second offer/answer for `holdMs`.
 */
export function uacScenario(o: { from: string; to: string; mediaPort: number; holdMs: number; rtp: RtpExec; auth?: { user: string; password: string }; reoffer?: Reoffer }): string {
  const inDialog = (method: string, cseq: number, extra: string): string => `<![CDATA[
${method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-d${cseq}
From: <${o.from}>;tag=[pid]C[call_number]
To: <${o.to}>[peer_tag_param]
Call-ID: [call_id]
CSeq: ${cseq} ${method}
[routes]
Max-Forwards: 70
${extra}]]>`;
  const reinvite = o.reoffer === undefined
    ? ''
    : `
  <send retrans="500">${inDialog('INVITE', 3, `Contact: <sip:caller@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

${sdp(o.reoffer.mediaPort, 2)}
`)}</send>
  <recv response="100" optional="true"/>
  <recv response="200">${SDP_EREG}
  </recv>
  <send>${inDialog('ACK', 3, 'Content-Length: 0\n\n')}</send>${execRtp(o.reoffer.rtp)}
  <pause milliseconds="${o.holdMs}"/>`;
  const byeCseq = o.reoffer === undefined ? 3 : 4;
  const invite = (n: number, auth: string): string => `<![CDATA[
INVITE ${o.to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-i${n}
From: <${o.from}>;tag=[pid]C[call_number]
To: <${o.to}>
Call-ID: [call_id]
CSeq: ${n} INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
${auth}Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

${sdp(o.mediaPort)}
]]>`;
  const challenge = o.auth
    ? `
  <send retrans="500">${invite(1, '')}</send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send><![CDATA[
ACK ${o.to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-i1
From: <${o.from}>;tag=[pid]C[call_number]
To: <${o.to}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <send retrans="500">${invite(2, `[authentication username=${o.auth.user} password=${o.auth.password}]\n`)}</send>`
    : `
  <send retrans="500">${invite(2, '')}</send>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="phone calling">${challenge}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true">${SDP_EREG}
  </recv>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-a2
From: <${o.from}>;tag=[pid]C[call_number]
To: <${o.to}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 ACK
[routes]
Max-Forwards: 70
Content-Length: 0

]]></send>${execRtp(o.rtp)}
  <pause milliseconds="${o.holdMs}"/>${reinvite}
  <send retrans="500">${inDialog('BYE', byeCseq, 'Content-Length: 0\n\n')}</send>
  <recv response="200"/>${SDP_REFERENCE}
</scenario>
`;
}

/** UAC phone whose INVITE must fail with `status` (ACKed hop by hop, RFC 3261 §17.1.1.3). */
export function uacExpectFailureScenario(o: { from: string; to: string; status: number }): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call that must fail">
  <send retrans="500"><![CDATA[
INVITE ${o.to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-f1
From: <${o.from}>;tag=[pid]F[call_number]
To: <${o.to}>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

${sdp(40_002)}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="${o.status}"/>
  <send><![CDATA[
ACK ${o.to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-f1
From: <${o.from}>;tag=[pid]F[call_number]
To: <${o.to}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
</scenario>
`;
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
  const final = (status: number, reason: string): string => `
  <send retrans="500"><![CDATA[
SIP/2.0 ${status} ${reason}
[$vias]
[last_From:]
[last_To:];tag=[pid]U[call_number]
[last_Call-ID:]
CSeq: [$cseqnum] INVITE
Content-Length: 0

]]></send>`;
  const end = o.end === 'cancel'
    ? `
  <recv request="CANCEL"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]U[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>${final(487, 'Request Terminated')}`
    : final(o.end, o.end === 486 ? 'Busy Here' : 'Failed');
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="phone that does not answer">
  <recv request="INVITE">
    <action>${anchoredCheck(o.relayIp)}${INVITE_VIAS_CSEQ}
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]U[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:${o.user}@[local_ip]:[local_port]>
Content-Length: 0

]]></send>${end}
  <recv request="ACK"/>
  <Reference variables="anchored"/>
</scenario>
`;
}

/**
 * A caller (answering the 407 with credentials) whose INVITE is not answered: after the 180 it
 * sends CANCEL (same branch and CSeq number, RFC 3261 §9.1) and gets 200 (CANCEL) then 487,
 * or it gets the final `status` straight away; either final response is ACKed (§17.1.1.3).
 */
export function uacUnansweredScenario(o: { from: string; to: string; auth: { user: string; password: string }; end: 'cancel' | number }): string {
  const req = (method: string, n: number, branch: number, extra: string, toTag = ''): string => `<![CDATA[
${method} ${o.to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-u${branch}
From: <${o.from}>;tag=[pid]C[call_number]
To: <${o.to}>${toTag}
Call-ID: [call_id]
CSeq: ${n} ${method}
Max-Forwards: 70
${extra}]]>`;
  const invite = (n: number, auth: string): string => req('INVITE', n, n, `Contact: <sip:caller@[local_ip]:[local_port]>
${auth}Content-Type: application/sdp
Content-Length: [len]

${sdp(40_000)}
`);
  const ack = (n: number): string => req('ACK', n, n, 'Content-Length: 0\n\n', '[peer_tag_param]');
  const end = o.end === 'cancel'
    ? `
  <recv response="180"/>
  <send retrans="500">${req('CANCEL', 2, 2, 'Content-Length: 0\n\n')}</send>
  <recv response="200"/>
  <recv response="487"/>`
    : `
  <recv response="180" optional="true"/>
  <recv response="${o.end}"/>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call that is not answered">
  <send retrans="500">${invite(1, '')}</send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send>${ack(1)}</send>
  <send retrans="500">${invite(2, `[authentication username=${o.auth.user} password=${o.auth.password}]\n`)}</send>
  <recv response="100" optional="true"/>${end}
  <send>${ack(2)}</send>
</scenario>
`;
}
