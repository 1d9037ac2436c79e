import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

/** GET /logout without a token asks first: a cross-site link must not be able to log anyone out. */
export function confirmLogoutPage(page: { csrfToken: string }): SafeHtml {
  return layout({ title: 'Log out' }, html`
<section class="card narrow">
  <h1>Log out?</h1>
  <form method="post" action="/logout">
    <input type="hidden" name="csrf_token" value="${page.csrfToken}">
    <button type="submit">Log out</button>
  </form>
</section>`);
}
