// Unit tests of the Markdown lint (scripts/check-docs.mjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { MAX_LINES, MIN_BLOCK_LINES, checkDoc, countLines, findRepeatedBlock } from './check-docs.mjs';

const paragraph = [
  '`npm run bench:proxy` (15 s steps; Kamailio 5.6.3 `-n 2`):',
  '',
  '| | highest stable calls/s |',
  '| --- | --- |',
  '| Kamailio | 8000 |',
  '| sip-proxy | 4000 |',
  '',
  'Our proxy collapses at 5000/s.',
];

describe('findRepeatedBlock', () => {
  it('accepts a doc whose blocks are all different', () => {
    const doc = ['# title', '', ...paragraph, '', '## next', '', 'other text', 'more text'].join('\n');
    assert.equal(findRepeatedBlock(doc), null);
  });

  it('finds a paragraph pasted twice, with the line numbers of both copies', () => {
    const doc = ['# title', '', ...paragraph, '', ...paragraph, ''].join('\n');
    assert.deepEqual(findRepeatedBlock(doc), { first: 2, repeat: 11, lines: MIN_BLOCK_LINES });
  });

  it('finds the damage of the bad bench/README.md edit (paragraph inserted between every character)', () => {
    const original = '# bench\n\nResults:\n';
    const pasted = `${paragraph.join('\n')}\n\n`;
    const damaged = original.replace(/(?:)/g, pasted);
    assert.ok(findRepeatedBlock(damaged) !== null);
  });

  it('ignores trailing whitespace when comparing lines', () => {
    const doc = [...paragraph, '', ...paragraph.map((l) => `${l}  `)].join('\n');
    assert.ok(findRepeatedBlock(doc) !== null);
  });

  it('does not flag repeated blank lines, table rules and fences', () => {
    const filler = ['', '| --- | --- |', '```', '', '---', ''];
    const doc = ['intro', ...filler, 'middle', ...filler, 'end'].join('\n');
    assert.equal(findRepeatedBlock(doc), null);
  });

  it('does not flag a block shorter than the limit', () => {
    const five = paragraph.slice(0, MIN_BLOCK_LINES - 1);
    const doc = ['a', ...five, 'b', ...five, 'c'].join('\n');
    assert.equal(findRepeatedBlock(doc), null);
    assert.ok(findRepeatedBlock(doc, MIN_BLOCK_LINES - 1) !== null);
  });

  it('flags one line repeated over more lines than the limit', () => {
    const doc = ['x', ...Array(MIN_BLOCK_LINES + 1).fill('the same words again'), 'y'].join('\n');
    assert.deepEqual(findRepeatedBlock(doc), { first: 2, repeat: 3, lines: MIN_BLOCK_LINES });
  });
});

describe('countLines', () => {
  it('counts lines as an editor shows them', () => {
    assert.equal(countLines(''), 0);
    assert.equal(countLines('a'), 1);
    assert.equal(countLines('a\n'), 1);
    assert.equal(countLines('a\nb'), 2);
    assert.equal(countLines('a\n\n'), 2);
  });
});

describe('checkDoc', () => {
  it('reports nothing for a sane doc', () => {
    assert.deepEqual(checkDoc('README.md', `# voip-stack\n\n${paragraph.join('\n')}\n`), []);
  });

  it('reports a doc longer than the limit, by name', () => {
    const doc = Array.from({ length: MAX_LINES + 1 }, (_, i) => `line ${i}`).join('\n');
    const problems = checkDoc('docs/big.md', doc);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^docs\/big\.md: 3001 lines, more than 3000/);
    assert.deepEqual(checkDoc('docs/big.md', doc, { maxLines: MAX_LINES + 1 }), []);
  });

  it('reports a repeated block with file and line', () => {
    const problems = checkDoc('bench/README.md', [...paragraph, '', ...paragraph].join('\n'));
    assert.deepEqual(problems, ['bench/README.md:10: the 6 lines from here repeat lines 1-6: keep one copy']);
  });
});

describe('check-docs command', () => {
  const script = fileURLToPath(new URL('./check-docs.mjs', import.meta.url));

  it('exits 0 for good files and 1 with a message for a damaged one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-docs-'));
    try {
      const good = join(dir, 'good.md');
      const bad = join(dir, 'bad.md');
      writeFileSync(good, `# good\n\n${paragraph.join('\n')}\n`);
      writeFileSync(bad, `# bad\n\n${paragraph.join('\n')}\n\n${paragraph.join('\n')}\n`);
      const ok = spawnSync(process.execPath, [script, good], { encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /1 Markdown file\(s\) OK/);
      const fail = spawnSync(process.execPath, [script, good, bad], { encoding: 'utf8' });
      assert.equal(fail.status, 1);
      assert.match(fail.stderr, /bad\.md:11: the 6 lines from here repeat lines 2-7/);
      assert.match(fail.stderr, /1 problem\(s\) in 2 Markdown file\(s\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
