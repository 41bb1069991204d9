#!/usr/bin/env node
// Lint of the Markdown files (`npm run lint`): catches a doc damaged by a bad edit, like the
// bench/README.md whose results paragraph had been pasted 14,630 times (263,566 lines).
//   node scripts/check-docs.mjs [FILE.md ...]    # default: every Markdown file of the repository
// A file fails when a block of MIN_BLOCK_LINES or more consecutive lines appears twice in it,
// or when it is longer than MAX_LINES. Exit 1 with one line per problem.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A block of this many consecutive lines may not appear twice in one file. */
export const MIN_BLOCK_LINES = 6;
/** No hand-written doc here comes near this; a generated one belongs outside the repository. */
export const MAX_LINES = 3000;

// A window counts only when at least half its lines carry words or numbers: blank runs,
// table rules (| --- |), fences and separators repeat legitimately.
const contentLine = /[\p{L}\p{N}]/u;

/**
 * Finds the first block of `minLines` consecutive lines that also occurs earlier in `text`.
 * Lines are compared without trailing whitespace. Returns 1-based line numbers of both
 * occurrences, or null.
 * @param {string} text
 * @param {number} [minLines]
 * @returns {{ first: number, repeat: number, lines: number } | null}
 */
export function findRepeatedBlock(text, minLines = MIN_BLOCK_LINES) {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd());
  const seen = new Map();
  for (let i = 0; i + minLines <= lines.length; i++) {
    const window = lines.slice(i, i + minLines);
    if (window.filter((l) => contentLine.test(l)).length * 2 < minLines) continue;
    const key = window.join('\n');
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else return { first: first + 1, repeat: i + 1, lines: minLines };
  }
  return null;
}

/** Number of lines as an editor shows them (a final newline does not open another line). */
export function countLines(text) {
  if (text.length === 0) return 0;
  const n = text.split('\n').length;
  return text.endsWith('\n') ? n - 1 : n;
}

/**
 * Problems of one document, as human-readable messages (empty when it is fine).
 * @param {string} name shown in the messages
 * @param {string} text
 * @param {{ minBlockLines?: number, maxLines?: number }} [limits]
 * @returns {string[]}
 */
export function checkDoc(name, text, limits = {}) {
  const minBlockLines = limits.minBlockLines ?? MIN_BLOCK_LINES;
  const maxLines = limits.maxLines ?? MAX_LINES;
  const problems = [];
  const n = countLines(text);
  if (n > maxLines) problems.push(`${name}: ${n} lines, more than ${maxLines}: a doc that long was most likely damaged by an edit (or belongs outside the repository)`);
  const rep = findRepeatedBlock(text, minBlockLines);
  if (rep !== null) {
    problems.push(`${name}:${rep.repeat}: the ${rep.lines} lines from here repeat lines ${rep.first}-${rep.first + rep.lines - 1}: keep one copy`);
  }
  return problems;
}

function walkMarkdown(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'dist') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walkMarkdown(p, out);
    else if (e.name.endsWith('.md')) out.push(p);
  }
  return out;
}

/** Markdown files of the repository: tracked or new, not ignored (node_modules, dist, .lab). */
export function repositoryMarkdown(root) {
  try {
    const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], {
      cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024,
    });
    // A file deleted in the working tree is still in the index: skip what cannot be read.
    return out.split('\0').filter((f) => f !== '').map((f) => join(root, f));
  } catch {
    // Not a git checkout (an unpacked archive): walk the tree instead.
    return walkMarkdown(root, []);
  }
}

function main(argv) {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const files = argv.length > 0 ? argv.map((f) => resolve(f)) : repositoryMarkdown(root);
  const problems = [];
  let checked = 0;
  for (const file of files) {
    let text;
    try { text = readFileSync(file, 'utf8'); } catch (err) {
      if (argv.length > 0) problems.push(`${file}: ${err.code ?? err.message}`);
      continue;
    }
    checked++;
    problems.push(...checkDoc(relative(root, file), text));
  }
  for (const p of problems) console.error(`check-docs: ${p}`);
  if (problems.length > 0) {
    console.error(`check-docs: ${problems.length} problem(s) in ${checked} Markdown file(s)`);
    process.exit(1);
  }
  console.log(`check-docs: ${checked} Markdown file(s) OK`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
