// Types for the parts of node-radius (npm "radius", untyped) that radius-acct uses.
declare module 'radius' {
  export type RadiusAttributeValue = string | number | Date | Buffer;
  /** [name or numeric id, value]; a numeric id needs a Buffer value. */
  export type RadiusAttribute = [string | number, RadiusAttributeValue];
  export interface RadiusPacket {
    code: string;
    identifier: number;
    length: number;
    attributes: Record<string, unknown>;
    raw_attributes: [number, Buffer][];
  }
  export interface EncodeArgs {
    code: string;
    secret: string;
    identifier?: number;
    attributes?: RadiusAttribute[];
    add_message_authenticator?: boolean;
  }
  export function encode(args: EncodeArgs): Buffer;
  export function decode(args: { packet: Buffer; secret: string }): RadiusPacket;
  export function decode_without_secret(args: { packet: Buffer }): RadiusPacket;
  export function encode_response(args: { packet: RadiusPacket; code: string; secret: string; attributes?: RadiusAttribute[] }): Buffer;
  export function verify_response(args: { request: Buffer; response: Buffer; secret: string }): boolean;
  export function add_dictionary(path: string): void;
  const radius: {
    encode: typeof encode;
    decode: typeof decode;
    decode_without_secret: typeof decode_without_secret;
    encode_response: typeof encode_response;
    verify_response: typeof verify_response;
    add_dictionary: typeof add_dictionary;
  };
  export default radius;
}
