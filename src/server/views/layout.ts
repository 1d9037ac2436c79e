import type { SessionUser } from '../context.ts';
import { html, type SafeHtml } from '../../html/html.ts';

export interface PageFrame {
  title: string;
  user?: SessionUser | undefined;
  csrfToken?: string | undefined;
  /** Which navigation entry is current. */
  section?: 'releases' | 'vehicles' | 'deployments' | 'ecus' | 'audit' | 'users';
  /** Further scripts of this page, files under /assets/ (the CSP allows no inline script). */
  scripts?: readonly string[];
}

/** The shared page shell: header with navigation and logout, no inline script or style (the CSP forbids them). */
export function layout(frame: PageFrame, body: SafeHtml): SafeHtml {
  const { user } = frame;
  const link = (href: string, label: string, section: PageFrame['section']) =>
    html`<a href="${href}"${frame.section === section ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · canota</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/upload.js" defer></script>
${(frame.scripts ?? []).map((src) => html`<script src="${src}" defer></script>
`)}</head>
<body>
<header class="top">
  <span class="brand">canota</span>
  ${user ? html`<nav>
    ${link('/', 'Releases', 'releases')}
    ${link('/vehicles', 'Vehicles', 'vehicles')}
    ${link('/deployments', 'Deployments', 'deployments')}
    ${link('/ecus', 'ECUs', 'ecus')}
    ${user.role === 'admin' ? [link('/audit', 'Audit log', 'audit'), link('/users', 'Users', 'users')] : ''}
  </nav>
  <form class="logout" method="post" action="/logout">
    <span class="who">${user.username} (${user.role})</span>
    <input type="hidden" name="csrf_token" value="${frame.csrfToken ?? ''}">
    <button type="submit">Log out</button>
  </form>` : ''}
</header>
<main>
${body}
</main>
</body>
</html>
`;
}
