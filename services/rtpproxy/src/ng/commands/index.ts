import { answer } from './answer.js';
import type { NgCommand } from './command.js';
import { del } from './delete.js';
import { list } from './list.js';
import { offer } from './offer.js';
import { ping } from './ping.js';
import { query } from './query.js';
import { statistics } from './statistics.js';

export type { NgCommand, NgContext } from './command.js';

/** Command name (as sent in "command") to handler. */
export const NG_COMMANDS: ReadonlyMap<string, NgCommand> = new Map([
  ['ping', ping],
  ['offer', offer],
  ['answer', answer],
  ['delete', del],
  ['query', query],
  ['list', list],
  ['statistics', statistics],
]);
