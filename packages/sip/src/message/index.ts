// The SIP message layer (docs/design/sip-package-api.md "message/").
export { type SipParseError, type SipErrorCode, SIP_ERRORS, sipError, isSipParseError, SipMessageError } from './errors.js';
export { decodeUtf8, encodeUtf8 } from './chars.js';
export { canonicalHeaderName, formatHeaderName } from './header-name.js';
export { HeaderList } from './header-list.js';
export { SipUri, TelUri, GenericUri, type Uri, type SipUriInit, parseUri, uriEquals } from './uri.js';
export { NameAddr, parseContacts } from './name-addr.js';
export { Via, MAGIC_COOKIE } from './via.js';
export { CSeq } from './cseq.js';
export { SipMessage, SipRequest, SipResponse, isRequest, type Contacts } from './sip-message.js';
export { parseMessage, type ParseResult, type ParseOptions, DEFAULT_MAX_MESSAGE_SIZE } from './parse-message.js';
export { defaultReason } from './reason-phrase.js';
export { createResponse, createCancel, createNon2xxAck, generateBranch, generateTag } from './message-factory.js';
