import { request } from 'undici';
import { runCanota } from '../../support/canota-process.ts';

/**
 * Deploys releases to registered vehicles through the management API, as a CI pipeline would: an API token
 * made with `canota token create` on the server's data dir, then `POST /api/v1/deployments` (one wave, unless
 * told otherwise). Returns the deployment's id, which is the campaign id the vehicles see.
 */
export async function deploy(server: { url: string; dataDir: string }, releaseIds: number[], target: object, extra: object = {}): Promise<number> {
  const made = await runCanota(['token', 'create', '--scope', 'deployments:write', '--expires-in', '1d', '--json', '--data-dir', server.dataDir]);
  if (made.code !== 0) throw new Error(`canota token create failed (${made.code}): ${made.stderr}`);
  const { token } = JSON.parse(made.stdout) as { token: string };
  const response = await request(new URL('/api/v1/deployments', server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `test deployment of ${releaseIds.join(', ')}`, release_ids: releaseIds, target, ...extra }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 201) throw new Error(`POST /api/v1/deployments answered ${response.statusCode}: ${text}`);
  return (JSON.parse(text) as { id: number }).id;
}
