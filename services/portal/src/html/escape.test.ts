import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, html } from './escape.js';

describe('html escaping', () => {
  it('escapes every interpolated value, keeps nested html, skips null/undefined/false', () => {
    const name = `<img src=x onerror="alert('1')">&`;
    const out = html`<p title="${name}">${name}${html`<b>${'<i>'}</b>`}${null}${undefined}${false}${[1, '<', html`<br>`]}</p>`;
    assert.equal(
      out.text,
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;<b>&lt;i&gt;</b>1&lt;<br></p>',
    );
    assert.equal(escapeHtml(`'; DROP TABLE subscriber; --`), '&#39;; DROP TABLE subscriber; --');
  });
});
