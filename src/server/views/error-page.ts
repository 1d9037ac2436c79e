import type { SessionUser } from '../context.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

const titles: Record<number, string> = {
  400: 'Bad request', 401: 'Login required', 403: 'Forbidden', 404: 'Not found', 413: 'Too large',
  416: 'Range not satisfiable', 429: 'Too many requests', 500: 'Something went wrong',
};

export function errorPage(page: { status: number; message: string; user?: SessionUser | undefined; csrfToken?: string | undefined }): SafeHtml {
  const title = titles[page.status] ?? `Error ${page.status}`;
  return layout({ title, user: page.user, csrfToken: page.csrfToken }, html`
<section class="card narrow">
  <h1>${title}</h1>
  <p class="error">${page.message}</p>
  <p><a href="/">Back to the releases</a></p>
</section>`);
}
