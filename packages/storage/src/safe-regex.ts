/**
 * Regular expressions from provisioning data (trusted.from_pattern, lcr_rule.from_uri,
 * dialplan.match_exp …) run against untrusted header text, so they are screened once at load
 * (STYLE.md §12): bounded length, no backreferences, no nested quantifiers (the classic
 * catastrophic-backtracking shape `(a+)+`), and the subject is length-capped at match time.
 */

/** Longest pattern accepted from a table or the config. */
export const MAX_PATTERN_LENGTH = 256;
/** Longest subject (a URI or a user part) a provisioned pattern is run against. */
export const MAX_SUBJECT_LENGTH = 512;

const BACKREFERENCE = /\\[1-9]|\\k</;
// A group that contains a quantifier and is itself quantified: (x+)+, (x*)*, (x+){2,}, (a|b*)+ …
const NESTED_QUANTIFIER = /\([^()]*[+*}][^()]*\)\s*[+*{]/;

export type SafeRegexResult = { ok: true; re: RegExp } | { ok: false; reason: string };

/**
 * Compiles a provisioned pattern. `anchor` wraps it in ^(?:…)$ unless it is anchored already
 * (dial-plan patterns match the whole number; Kamailio's trusted/lcr patterns search).
 */
export function compileSafeRegex(pattern: string, opts: { anchor?: boolean; flags?: string } = {}): SafeRegexResult {
  if (pattern.length === 0) return { ok: false, reason: 'empty pattern' };
  if (pattern.length > MAX_PATTERN_LENGTH) return { ok: false, reason: `pattern longer than ${MAX_PATTERN_LENGTH} characters` };
  if (BACKREFERENCE.test(pattern)) return { ok: false, reason: 'backreferences are not allowed' };
  if (NESTED_QUANTIFIER.test(pattern)) return { ok: false, reason: 'nested quantifiers are not allowed' };
  let source = pattern;
  if (opts.anchor) {
    const head = source.startsWith('^') ? source.slice(1) : source;
    const body = head.endsWith('$') && !head.endsWith('\\$') ? head.slice(0, -1) : head;
    source = `^(?:${body})$`;
  }
  try {
    return { ok: true, re: new RegExp(source, opts.flags ?? '') };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** `re.test(subject)`, false for subjects over MAX_SUBJECT_LENGTH (never run on oversized input). */
export function safeTest(re: RegExp, subject: string): boolean {
  if (subject.length > MAX_SUBJECT_LENGTH) return false;
  re.lastIndex = 0;
  return re.test(subject);
}
