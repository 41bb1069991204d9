/**
 * SIPp scenarios of the NAT call test, generated per run (addresses, users and the RTP party's
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

function sdp(port: number): string {
  return ['v=0', 'o=- 1 1 IN IP4 [local_ip]', 's=-', 'c=IN IP4 [local_ip]', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv'].join('\n');
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

/**
 * UAS phone: answers keepalive OPTIONS (each its own SIPp call) and one INVITE with SDP, runs
 * the RTP party after the ACK, answers the BYE.
 */
export function uasScenario(user: string, mediaPort: number, rtp: RtpExec): string {
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
  <recv request="ACK"/>${execRtp(rtp)}
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
 * for `holdMs`, BYE — in-dialog requests along the Record-Route ([routes], [next_url]).
 */
export function uacScenario(o: { from: string; to: string; mediaPort: number; holdMs: number; rtp: RtpExec; auth?: { user: string; password: string } }): string {
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
  <pause milliseconds="${o.holdMs}"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-b3
From: <${o.from}>;tag=[pid]C[call_number]
To: <${o.to}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 3 BYE
[routes]
Max-Forwards: 70
Content-Length: 0

]]></send>
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
