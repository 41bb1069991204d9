// Messages between the control thread (which owns the RtpSessionTable) and the media
// worker threads (which own the UDP sockets). Only control events cross this boundary;
// packets never do. Per-leg counters live in a SharedArrayBuffer the worker writes and
// the control thread reads, so query/list/metrics cost no messages.

export type AddressFamily = 4 | 6;

/** Layout of one leg's counters in the shared Float64Array (index = slot * FIELDS + field). */
export const C_RTP_PACKETS = 0;
export const C_RTP_BYTES = 1;
export const C_RTP_ERRORS = 2;
export const C_RTP_LAST = 3; // ms since epoch of the last packet received, 0 = none
export const C_RTCP_PACKETS = 4;
export const C_RTCP_BYTES = 5;
export const C_RTCP_ERRORS = 6;
export const C_RTCP_LAST = 7;
export const COUNTER_FIELDS = 8;

export interface Destination {
  readonly address: string;
  readonly port: number;
}

export type ToWorker =
  | { readonly op: 'open'; readonly id: number; readonly gen: number; readonly port: number; readonly ip: string; readonly family: AddressFamily }
  | { readonly op: 'close'; readonly port: number }
  | {
      readonly op: 'target';
      readonly port: number;
      /** Where packets for this leg's party go until (or unless) latching learns better. */
      readonly rtp: Destination | null;
      readonly rtcp: Destination | null;
      /** Symmetric RTP: learn the destination from the source of the next packets. */
      readonly latch: boolean;
      /** The relay port of the other party; packets received here leave from there. */
      readonly partnerPort: number;
      /** ICE-lite credentials when the relay answers STUN checks on this leg, else null. */
      readonly ice: { readonly ufrag: string; readonly pwd: string } | null;
      /** true: take rtp/rtcp as the new target and latch again; false: keep the current target. */
      readonly retarget: boolean;
    }
  | { readonly op: 'stop' };

export type FromWorker =
  | { readonly op: 'opened'; readonly id: number; readonly ok: true }
  | { readonly op: 'opened'; readonly id: number; readonly ok: false; readonly code: string; readonly message: string }
  | { readonly op: 'latched'; readonly gen: number; readonly port: number; readonly rtcp: boolean; readonly address: string; readonly srcPort: number }
  | { readonly op: 'ready' };

export interface WorkerInit {
  /** First and last RTP port (even) this worker owns; slot = (port - first) / 2. */
  readonly firstPort: number;
  readonly lastPort: number;
  readonly counters: SharedArrayBuffer;
  readonly recvBufferSize: number;
}
