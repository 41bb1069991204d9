/**
 * Kamailio (Debian 5.6, its rtpengine module, unchanged) drives rtp-relay over ng in a real
 * SIPp call: INVITE -> rtpengine_manage() offer, 200 OK -> answer, BYE -> delete. RTP from the
 * caller's side is sent to the relay port Kamailio put into the SDP, SIPp's UAS echoes it
 * (-rtp_echo) and it must come back through the relay; the relay counts both legs.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allocatePort, allocatePorts, ManagedProcess, WorkDir } from '../harness/index.js';
import { mediaPortRange, rtpStreamOf, RtpEndpoint, startRelay, waitFor, type RunningRelay } from './support.js';

const KAMAILIO_MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';
/** Media address of the relay: differs from the phones' 127.0.0.1, so the rewrite is visible. */
const RELAY_MEDIA_IP = '127.0.0.3';
const FLAGS = 'replace-origin replace-session-connection trust-address';

function kamailioCfg(sipPort: number, ngPort: number, uasPort: number): string {
  return `#!KAMAILIO
# Minimal stateful proxy anchoring media with the rtpengine module (book ch.1 NAT section).
debug=2
log_stderror=yes
children=2
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:${sipPort}
mpath="${KAMAILIO_MODULES}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:${ngPort}")

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    # SIPp's built-in UAS does not mirror Record-Route, so in-dialog requests may come
    # without a Route set: relay them to their Request-URI either way.
    loose_route();
    if (is_method("BYE")) rtpengine_manage();
    t_relay();
    exit;
  }
  if (is_method("INVITE")) {
    record_route();
    rtpengine_manage("${FLAGS}");
    t_on_reply("MEDIA");
  }
  $du = "sip:127.0.0.1:${uasPort}";
  if (!t_relay()) sl_reply_error();
  exit;
}

onreply_route[MEDIA] {
  if (has_body("application/sdp")) rtpengine_manage("${FLAGS}");
}
`;
}

/** SIPp UAC: INVITE offering media at the test's own RTP socket, hold the call, BYE. */
function uacScenario(rtpPort: number, holdMs: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="rtp-relay uac">
  <send retrans="500">
    <![CDATA[
INVITE sip:echo@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:echo@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio ${rtpPort} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:echo@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
[routes]
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <pause milliseconds="${holdMs}"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:echo@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
[routes]
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
`;
}

function sippMessages(dir: string): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('_messages.log') || f === 'messages.log')
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

describe('Kamailio rtpengine module driving rtp-relay', () => {
  const work = new WorkDir('rtpproxy-kamailio');
  let relay: RunningRelay;
  let kamailio: ManagedProcess;
  let uas: ManagedProcess;
  let sipPort: number;
  let uasPort: number;
  let uasMediaPort: number;
  const uasDir = work.sub('uas');
  const uacDir = work.sub('uac');

  before(async () => {
    relay = await startRelay(work, 'rtp-relay', { mediaIp: [RELAY_MEDIA_IP], ports: mediaPortRange() });
    [sipPort, uasPort] = await allocatePorts(2);
    uasMediaPort = 2 * Math.floor((await allocatePort()) / 2);
    const cfg = work.file('kamailio.cfg');
    writeFileSync(cfg, kamailioCfg(sipPort, relay.ngPort, uasPort));
    kamailio = await ManagedProcess.launch({
      name: 'kamailio',
      command: 'kamailio',
      args: ['-f', cfg, '-DD', '-E', '-m', '256', '-M', '16', '-Y', work.sub('kamailio-run'), '-w', work.path],
      logFile: work.file('kamailio.log'),
    });
    // Kamailio's rtpengine module pings its ng socket from each child once SIP sockets are
    // bound: the relay counting that ping is our readiness signal, and proves the module
    // accepted our pong.
    await waitFor('Kamailio pinging the relay', 15_000, async () => {
      if (!kamailio.running) throw new Error(`kamailio exited:\n${kamailio.outputTail()}`);
      const m = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text();
      return /rtp_relay_ng_commands_total\{command="ping",result="ok"\} [1-9]/.test(m) ? true : null;
    });
    uas = await ManagedProcess.launch({
      name: 'sipp-uas',
      command: 'sipp',
      args: ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-mi', '127.0.0.1', '-mp', String(uasMediaPort), '-rtp_echo',
        '-trace_msg', '-nostdin'],
      cwd: uasDir,
      logFile: work.file('sipp-uas.log'),
    });
  });

  after(async () => {
    await uas?.stop();
    await kamailio?.stop();
    await relay?.stop();
    work.cleanup();
  });

  it('offer/answer/delete come from Kamailio, SDP points at the relay and RTP flows both ways', async () => {
    const caller = await RtpEndpoint.bind('127.0.0.1');
    try {
      const scen = join(uacDir, 'uac.xml');
      writeFileSync(scen, uacScenario(caller.port, 4000));
      const uacPort = await allocatePort();
      const uac = await ManagedProcess.launch({
        name: 'sipp-uac',
        command: 'sipp',
        args: [`127.0.0.1:${sipPort}`, '-sf', scen, '-i', '127.0.0.1', '-p', String(uacPort), '-m', '1', '-trace_msg', '-nostdin',
          '-timeout', '20s', '-timeout_error'],
        cwd: uacDir,
        logFile: work.file('sipp-uac.log'),
      });
      // Wait until Kamailio has sent offer and answer: the call has two tags, each with a media
      // stream (a tag can be listed before the answer has given it its medias).
      const callId = await waitFor('call anchored by Kamailio', 10_000, async () => {
        const l = (await relay.ng.ok('list'))['calls'] as string[];
        if (l.length !== 1) return null;
        const q = await relay.ng.ok('query', { 'call-id': l[0] });
        const tags = Object.values(q['tags'] as Record<string, { medias?: { streams?: unknown[] }[] }>);
        return tags.length === 2 && tags.every((t) => (t.medias?.[0]?.streams?.length ?? 0) > 0) ? l[0] : null;
      });
      const q0 = await relay.ng.ok('query', { 'call-id': callId });
      const tags = Object.keys(q0['tags'] as object);
      // The caller's leg is the one whose SDP address is our RTP socket.
      const callerTag = tags.find((t) => (rtpStreamOf(q0, t) as unknown as { 'advertised endpoint': { port?: number } })['advertised endpoint'].port === caller.port) ?? '';
      const calleeTag = tags.find((t) => t !== callerTag) ?? '';
      const toCaller = rtpStreamOf(q0, callerTag)['local port'];
      // The caller streams to the relay port the 200 OK told it; SIPp echoes back via the relay.
      await caller.stream(RELAY_MEDIA_IP, toCaller, 50);
      await waitFor('echoed RTP', 3000, () => (caller.received >= 45 ? true : null));
      const q = await relay.ng.ok('query', { 'call-id': callId });
      assert.equal(rtpStreamOf(q, callerTag).stats.packets, 50, 'caller -> relay');
      assert.ok(rtpStreamOf(q, calleeTag).stats.packets >= 45, 'callee (SIPp echo) -> relay');
      assert.deepEqual([...caller.sources], [`${RELAY_MEDIA_IP}:${toCaller}`]);

      const exit = await uac.waitForExit(20_000);
      assert.equal(exit.code, 0, `SIPp UAC failed:\n${uac.outputTail()}`);
      // BYE made Kamailio send delete: the call is gone.
      await waitFor('delete from Kamailio', 5000, async () => ((((await relay.ng.ok('list'))['calls'] as string[]).length === 0) ? true : null));

      // Both SIPps saw the relay in the SDP, never each other's media address.
      const uasSeen = sippMessages(uasDir);
      assert.match(uasSeen, new RegExp(`c=IN IP4 ${RELAY_MEDIA_IP.replace(/\./g, '\\.')}`), 'INVITE rewritten for the callee');
      assert.match(uasSeen, new RegExp(`o=caller 53655765 2353687637 IN IP4 ${RELAY_MEDIA_IP.replace(/\./g, '\\.')}`), 'origin replaced');
      assert.ok(!uasSeen.includes(`m=audio ${caller.port} `), 'callee never sees the caller port');
      const uacSeen = sippMessages(uacDir);
      assert.match(uacSeen, new RegExp(`c=IN IP4 ${RELAY_MEDIA_IP.replace(/\./g, '\\.')}`), '200 OK rewritten for the caller');
      assert.match(uacSeen, new RegExp(`m=audio ${toCaller} `));
      // Kamailio's commands were counted by the relay.
      const m = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text();
      for (const c of ['offer', 'answer', 'delete']) assert.match(m, new RegExp(`rtp_relay_ng_commands_total\\{command="${c}",result="ok"\\} [1-9]`), c);
    } finally {
      caller.close();
    }
  });
});
