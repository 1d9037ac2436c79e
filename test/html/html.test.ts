import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeHtml, html, raw } from '../../src/html/html.ts';

test('interpolated values are escaped, SafeHtml and arrays compose', () => {
  const name = '<img src=x onerror="alert(1)">\'&';
  assert.equal(html`<td>${name}</td>`.value, '<td>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&amp;</td>');
  assert.equal(html`<ul>${['<a>', html`<li>${'b'}</li>`]}</ul>`.value, '<ul>&lt;a&gt;<li>b</li></ul>');
  assert.equal(html`${null}${undefined}${false}${0}`.value, '0');
  assert.equal(html`${raw('<br>')}`.value, '<br>');
});

test('no string survives escaping with a markup character', () => {
  fc.assert(fc.property(fc.string(), (text) => {
    assert.doesNotMatch(escapeHtml(text), /[<>"']/);
    assert.equal(escapeHtml(text).replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!), text);
  }));
});
