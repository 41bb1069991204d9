import type { BencodeDict } from '@voip/ng';
import type { Logger } from 'pino';
import type { RtpSessionTable } from '../../media/rtp-session-table.js';

/** What a command handler may use; built once by the ng server. */
export interface NgContext {
  readonly table: RtpSessionTable;
  readonly log: Logger;
  readonly startedAt: number;
  /** Counts of handled commands by name, for "statistics". */
  readonly commandCounts: ReadonlyMap<string, number>;
}

/** One ng command: normalised request dictionary in, reply dictionary out. */
export type NgCommand = (req: BencodeDict, ctx: NgContext) => BencodeDict | Promise<BencodeDict>;
