/** Markup that is already safe to emit: produced by `html` or `raw`, never by user input. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => escapes[c]!);
}

/**
 * The only way pages are built: every interpolated value is escaped unless it is itself `SafeHtml`, so
 * an uploaded filename like `<img onerror=…>.bin` is shown as text, never parsed as markup.
 * Arrays are concatenated; null, undefined and false render as nothing.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** Trusted markup from our own code (never from a request). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
