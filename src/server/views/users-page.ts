import type { SessionUser } from '../context.ts';
import type { UserRecord } from '../storage/users.ts';
import { minPasswordLength } from '../auth/passwords.ts';
import { formatTime } from './format.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export interface UsersView {
  user: SessionUser;
  csrfToken: string;
  users: UserRecord[];
  flash?: string | undefined;
  error?: string | undefined;
}

export function usersPage(view: UsersView): SafeHtml {
  return layout({ title: 'Users', user: view.user, csrfToken: view.csrfToken, section: 'users' }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<section class="card">
  <h1>Users</h1>
  <div class="scroll"><table class="users">
    <thead><tr><th>Username</th><th>Role</th><th>Created</th><th></th></tr></thead>
    <tbody>
    ${view.users.map((u) => html`<tr>
      <td>${u.username}</td><td>${u.role}</td><td>${formatTime(u.created_at)}</td>
      <td>${u.username === view.user.username ? '' : html`<form method="post" action="/users/remove">
        <input type="hidden" name="csrf_token" value="${view.csrfToken}">
        <input type="hidden" name="username" value="${u.username}">
        <button type="submit" class="danger">Remove</button></form>`}</td>
    </tr>`)}
    </tbody>
  </table></div>
</section>
<section class="card">
  <h2>Add a user</h2>
  <form method="post" action="/users">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <label>Username <input name="username" required maxlength="64" pattern="[A-Za-z0-9._@-]+"></label>
    <label>Role <select name="role"><option>employee</option><option>admin</option></select></label>
    <label>Password (at least ${minPasswordLength} characters) <input name="password" type="password" required minlength="${minPasswordLength}" autocomplete="new-password"></label>
    <button type="submit">Add user</button>
  </form>
</section>`);
}
