import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export function loginPage(page: { csrfToken: string; error?: string; username?: string }): SafeHtml {
  return layout({ title: 'Log in' }, html`
<section class="card narrow">
  <h1>Log in</h1>
  ${page.error ? html`<p class="error" role="alert">${page.error}</p>` : ''}
  <form method="post" action="/login">
    <input type="hidden" name="csrf_token" value="${page.csrfToken}">
    <label>Username <input name="username" autocomplete="username" required value="${page.username ?? ''}"></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Log in</button>
  </form>
</section>`);
}
