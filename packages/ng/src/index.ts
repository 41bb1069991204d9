/**
 * @voip/ng — the bencode codec of rtpengine's ng control protocol, shared by rtpproxy (the
 * relay's ng server and its test client) and the proxy's rtpengine module (the ng client).
 *
 *   const datagram = Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), bencode({ command: 'ping' })]);
 *   const r = bdecode(reply, reply.indexOf(0x20) + 1);   // the part after the cookie
 *   if (r.ok && isDict(r.value)) … else log(r.ok ? 'not a dictionary' : r.reason);
 *
 *  - bencode(value): Buffer — dictionary keys sorted by bytes (BEP 3); undefined entries are
 *    left out; a non-finite number throws TypeError (a programming error, not wire input).
 *  - bdecode(buf, start?, end?) — exactly one value spanning buf[start, end); malformed input,
 *    trailing bytes, nesting deeper than 32, integers past 2^53 give { ok: false, reason, offset }.
 *    Dictionaries have a null prototype, so "__proto__" from the wire stays plain data.
 */
export { bdecode, bencode, isDict, type BencodeDict, type BencodeValue, type DecodeResult } from './bencode.js';
