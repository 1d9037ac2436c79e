import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanota } from '../../support/canota-process.ts';
import { openStorage } from '../../../src/server/storage/index.ts';
import { admin, employee, loggedIn, startTestServer, type TestServer } from '../support/server.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';
import { deploy } from '../support/deployments.ts';
import { image } from '../support/images.ts';
import type { WebClient } from '../support/web-client.ts';

const vin = (n: number) => `WCANTAFLT0000000${n}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface VehicleJson {
  vin: string; tags: string[]; online: boolean; last_seen_at: string | null;
  ecus: Record<string, { version: string | null; hardware_id: string | null }>;
  last_report: { outcome: string } | null;
}
interface ListJson { vehicles: VehicleJson[]; total: number; page: number; limit: number; next_page: number | null }

async function createToken(server: TestServer, name: string, scope: string): Promise<string> {
  const run = await runCanota(['token', 'create', name, '--scope', scope, '--json', '--data-dir', server.dataDir]);
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { token: string }).token;
}

async function list(client: WebClient, query: string, headers: Record<string, string> = {}): Promise<ListJson> {
  const response = await client.fetch(`/api/v1/vehicles${query}`, { headers });
  assert.equal(response.status, 200, `${query}: ${response.text}`);
  return response.json<ListJson>();
}
const tail = (answer: ListJson) => answer.vehicles.map((v) => v.vin.slice(-1));

test('fleet operations: search, filters, sort and paging of /api/v1/vehicles; tags by API, UI and CLI, scoped and audited', async (t) => {
  const server = await startTestServer(t, { args: ['--online-window', '120'] });
  const versions = ['1.0.0', '1.10.0', '2.0.0-rc.1', '2.0.0', null];
  const tokens: string[] = [];
  for (let n = 1; n <= versions.length; n++) tokens.push(await registerVehicle(server.dataDir, vin(n)));
  const car = server.client();
  // Vehicles 1-4 report (in that order, so the last seen is 4, then 3 …); vehicle 5 never calls: offline.
  for (const [i, version] of versions.entries()) {
    if (version === null) continue;
    const response = await car.fetch(`/api/v1/vehicles/${vin(i + 1)}/reports`, {
      method: 'POST', headers: { ...bearer(tokens[i]!), 'content-type': 'application/json' },
      body: JSON.stringify(vehicleReport({
        ecus: { EDT: { version, sha256: null, active_bank: 'A', state: 'Running', hardware_id: i === 1 ? 'EDT-HW-B2' : 'EDT-HW-A1' } },
      })),
    });
    assert.equal(response.status, 201, response.text);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const alice = await loggedIn(server, admin);
  const erin = await loggedIn(server, employee);
  const reader = await createToken(server, 'fleet-dashboard', 'vehicles:read');
  const writer = await createToken(server, 'fleet-tagger', 'vehicles:write');

  await t.test('the whole fleet: a page of 50 by VIN, with tags, online state, each ECU\'s version and hardware id', async () => {
    const all = await list(erin, '');
    assert.deepEqual({ ...all, vehicles: tail(all) }, { vehicles: ['1', '2', '3', '4', '5'], total: 5, page: 1, limit: 50, next_page: null });
    const [first] = all.vehicles;
    assert.deepEqual([first!.tags, first!.online, first!.ecus.EDT?.version, first!.ecus.EDT?.hardware_id, first!.last_report?.outcome],
      [[], true, '1.0.0', 'EDT-HW-A1', 'success']);
    assert.deepEqual(all.vehicles.map((v) => v.online), [true, true, true, true, false], 'never in touch: offline');
  });

  await t.test('filters, sort and paging', async () => {
    assert.deepEqual(tail(await list(erin, '?q=flt00000003')), ['3'], 'a VIN part in any case');
    assert.deepEqual(tail(await list(erin, '?ecu=edt&version_below=2.0.0')), ['1', '2', '3'], 'the firmware order: 1.10.0 and 2.0.0-rc.1 are below 2.0.0');
    assert.deepEqual(tail(await list(erin, '?ecu=EDT&version=2.0')), ['4']);
    assert.deepEqual(tail(await list(erin, '?hardware_id=EDT-HW-B2')), ['2']);
    assert.deepEqual(tail(await list(erin, '?online=false')), ['5']);
    assert.deepEqual(tail(await list(erin, '?online=true&sort=-last_seen')), ['4', '3', '2', '1']);
    assert.deepEqual(tail(await list(erin, '?sort=-registered')), ['5', '4', '3', '2', '1']);
    const first = await list(erin, '?sort=-vin&limit=2');
    assert.deepEqual([tail(first), first.total, first.next_page], [['5', '4'], 5, 2]);
    const last = await list(erin, '?sort=-vin&limit=2&page=3');
    assert.deepEqual([tail(last), last.total, last.page, last.next_page], [['1'], 5, 3, null]);
    const paged = await list(erin, '?ecu=EDT&version_below=3&limit=1&page=2');
    assert.deepEqual([tail(paged), paged.total, paged.next_page], [['2'], 4, 3], 'paging stays exact with the version filter');
    assert.deepEqual((await list(erin, '?page=9')).vehicles, [], 'past the last page: none');
    const none = await erin.fetch('/vehicles?q=ZZZ&sort=-vin');
    assert.equal(none.status, 200);
    assert.match(none.text, /No vehicle matches this search\. <a href="\/vehicles">Show all vehicles<\/a>/);
    assert.match(none.text, /name="q" value="ZZZ"/, 'the form shows the search');
  });

  await t.test('bad parameters: 400 naming the parameter, on the API and the page', async () => {
    const bad: Array<[string, RegExp]> = [
      ['limit=0', /limit: "0" is not a whole number from 1 to 500/], ['limit=501', /limit/], ['page=0', /page/], ['page=x', /page/],
      ['sort=colour', /sort: "colour" is not one of vin, last_seen, registered/], ['online=yes', /online: "yes" is not true or false/],
      ['tag=Pilot', /tag: bad tag "Pilot"/], ['tag=a%2Fb', /tag: bad tag "a\/b"/], [`tag=${'x'.repeat(33)}`, /1 to 32 characters/],
      ['version_below=2.0.0', /version_below needs ecu/], ['ecu=EDT&version=1&version_below=2', /not both/],
      ['ecu=E%20DT', /not an ECU name/], ['q=%25', /not part of a VIN/], ['tags=pilot', /unknown parameter "tags"/],
      ['limit=1&limit=2', /limit/],
    ];
    for (const [query, message] of bad) {
      const response = await erin.fetch(`/api/v1/vehicles?${query}`);
      assert.equal(response.status, 400, query);
      assert.match(response.json<{ error: string }>().error, message, query);
    }
    const page = await erin.fetch('/vehicles?sort=colour', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 400);
    assert.match(page.text, /sort: &quot;colour&quot; is not one of/);
  });

  await t.test('tags over the API: an admin session with its CSRF token; refused without it, for an employee, and for bad tags', async () => {
    const csrf = await alice.csrfToken('/vehicles');
    const put = (client: WebClient, target: string, body: unknown, headers: Record<string, string>) => client.fetch(`/api/v1/vehicles/${target}/tags`, {
      method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers },
    });
    const set = await put(alice, vin(1), { tags: ['pilot', 'fleet-berlin', 'pilot'] }, { 'x-csrf-token': csrf });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.json(), { vin: vin(1), tags: ['fleet-berlin', 'pilot'] }, 'sorted, without duplicates');
    assert.equal((await put(alice, vin(2).toLowerCase(), { tags: ['pilot'] }, { 'x-csrf-token': csrf })).status, 200, 'a VIN in any case');
    assert.equal((await put(alice, vin(3), { tags: ['pilot'] }, {})).status, 403, 'no CSRF token');
    assert.equal((await put(erin, vin(3), { tags: ['pilot'] }, { 'x-csrf-token': await erin.csrfToken('/vehicles') })).status, 403, 'an employee');
    for (const [body, message] of [
      [{ tags: ['Pilot'] }, /bad tag "Pilot": a tag has only lower-case letters/],
      [{ tags: [''] }, /1 to 32 characters/],
      [{ tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }, /17 tags: a vehicle has at most 16/],
      [{ tags: [{}] }, /must be string/],
      [{}, /must have required property 'tags'/],
    ] as const) {
      const refused = await put(alice, vin(3), body, { 'x-csrf-token': csrf });
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.match(refused.json<{ error: string }>().error, message);
    }
    assert.equal((await put(alice, 'WCANTA00000000099', { tags: ['pilot'] }, { 'x-csrf-token': csrf })).status, 404);
    assert.equal((await put(alice, 'not-a-vin', { tags: ['pilot'] }, { 'x-csrf-token': csrf })).status, 400);
    assert.deepEqual(tail(await list(erin, '?tag=pilot')), ['1', '2']);
    assert.deepEqual(tail(await list(erin, '?tag=pilot&tag=fleet-berlin')), ['1'], 'every tag given');
    assert.deepEqual(tail(await list(erin, '?tag=pilot,fleet-berlin')), ['1']);
  });

  await t.test('API tokens: vehicles:read lists but cannot set tags (403, audited); vehicles:write sets them', async () => {
    const anonymous = server.client();
    assert.deepEqual(tail(await list(anonymous, '?tag=pilot', bearer(reader))), ['1', '2']);
    const put = (token: string, tags: string[]) => anonymous.fetch(`/api/v1/vehicles/${vin(4)}/tags`, {
      method: 'PUT', body: JSON.stringify({ tags }), headers: { 'content-type': 'application/json', ...bearer(token) },
    });
    const refused = await put(reader, ['pilot']);
    assert.equal(refused.status, 403);
    assert.match(refused.json<{ error: string }>().error, /lacks the scope vehicles:write/);
    const done = await put(writer, ['fleet-munich']);
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.json(), { vin: vin(4), tags: ['fleet-munich'] });
  });

  await t.test('tags in the UI: the vehicle page shows and edits them (admin, CSRF); a bad list is refused and kept in the form', async () => {
    const page = await alice.fetch(`/vehicles/${vin(5)}`);
    assert.match(page.text, /<form method="post" action="\/vehicles\/WCANTAFLT00000005\/tags"/);
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.text)![1]!;
    const saved = await alice.fetch(`/vehicles/${vin(5)}/tags`, { form: { csrf_token: csrf, tags: 'pilot, lab  eu' } });
    assert.equal(saved.status, 303, saved.text);
    assert.equal(saved.headers.location, `/vehicles/${vin(5)}`);
    const after = await alice.fetch(`/vehicles/${vin(5)}`);
    assert.match(after.text, /Tags of WCANTAFLT00000005: eu, lab, pilot\./);
    assert.match(after.text, /href="\/vehicles\?tag=lab">lab<\/a>/);
    const refused = await alice.fetch(`/vehicles/${vin(5)}/tags`, { form: { csrf_token: csrf, tags: 'pilot, Lab!' } });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /Tags not saved: bad tag &quot;Lab!&quot;/);
    assert.match(refused.text, /value="pilot, Lab!"/, 'what was typed stays in the field');
    assert.equal((await alice.fetch(`/vehicles/${vin(5)}/tags`, { form: { tags: 'x' } })).status, 403, 'no CSRF token');
    const employeeCsrf = await erin.csrfToken(`/vehicles/${vin(5)}`);
    assert.doesNotMatch((await erin.fetch(`/vehicles/${vin(5)}`)).text, /tags-form/, 'employees see tags, no form');
    assert.equal((await erin.fetch(`/vehicles/${vin(5)}/tags`, { form: { csrf_token: employeeCsrf, tags: 'x' } })).status, 403);
    const listed = await erin.fetch('/vehicles?tag=lab');
    assert.match(listed.text, /showing 1–1 of 1/);
    assert.match(listed.text, /data-vin="WCANTAFLT00000005"/);
  });

  await t.test('tags from the CLI: show, add, remove, set; mistakes exit 2', async () => {
    const tag = (...args: string[]) => runCanota(['vehicle', 'tag', ...args, '--data-dir', server.dataDir]);
    const shown = await tag(vin(5));
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout.trim(), `vehicle ${vin(5)} tags: eu, lab, pilot`);
    const edited = await tag(vin(5).toLowerCase(), '--add', 'fleet-berlin,canary', '--remove', 'lab', '--json');
    assert.equal(edited.code, 0, edited.stderr);
    assert.deepEqual(JSON.parse(edited.stdout), { vin: vin(5), tags: ['canary', 'eu', 'fleet-berlin', 'pilot'] });
    const cleared = await tag(vin(5), '--set', '');
    assert.equal(cleared.stdout.trim(), `vehicle ${vin(5)} has no tags`);
    assert.equal((await tag(vin(5), '--set', 'a,b')).code, 0);
    for (const [args, message] of [
      [['--add', 'Bad'], /bad tag "Bad"/], [['--set', 'a', '--add', 'b'], /--set replaces every tag/],
      [['--add', Array.from({ length: 15 }, (_, i) => `t${i}`).join(',')], /17 tags: a vehicle has at most 16/],
    ] as const) {
      const run = await tag(vin(5), ...args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message);
    }
    const unknown = await tag('WCANTA00000000099', '--add', 'x');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no vehicle WCANTA00000000099/);
    assert.deepEqual((await list(erin, `?q=${vin(5)}`)).vehicles[0]!.tags, ['a', 'b'], 'the running server sees the CLI\'s change');

    // Several vehicles at once; one unknown VIN among them changes none.
    const several = await tag(vin(3), vin(5), '--add', 'canary', '--json');
    assert.equal(several.code, 0, several.stderr);
    assert.deepEqual(several.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown),
      [{ vin: vin(3), tags: ['canary'] }, { vin: vin(5), tags: ['a', 'b', 'canary'] }]);
    const typo = await tag(vin(3), 'WCANTA00000000099', '--remove', 'canary');
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /no vehicle WCANTA00000000099/);
    assert.equal((await tag(vin(3))).stdout.trim(), `vehicle ${vin(3)} tags: canary`, 'nothing changed');
    assert.equal((await tag(vin(3), '--remove', 'canary')).code, 0);
  });

  await t.test('every change is audited as vehicle.tags (actor: user, token or cli), every refusal too', async () => {
    const entries = (await server.auditLines()).filter((a) => a.event === 'vehicle.tags');
    const ok = entries.filter((a) => a.outcome === 'ok').map((a) => [a.actor, a.subject, (a.details as { tags: string[] }).tags]);
    assert.deepEqual(ok.slice(0, 4), [
      [admin.username, vin(1), ['fleet-berlin', 'pilot']], [admin.username, vin(2), ['pilot']],
      ['token:fleet-tagger', vin(4), ['fleet-munich']], [admin.username, vin(5), ['eu', 'lab', 'pilot']],
    ]);
    const denied = entries.filter((a) => a.outcome === 'denied').map((a) => a.actor);
    assert.ok(denied.includes(employee.username), 'the employee\'s attempts');
    assert.ok(denied.includes('token:fleet-dashboard'), 'the read-only token\'s attempt');
    // The CLI writes to the database directly; the server did not print those, the audit log has them.
    const cli = await runCanota(['audit', 'list', '--event', 'vehicle.tags', '--actor', 'cli', '--json', '--data-dir', server.dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    const cliEntries = cli.stdout.trim().split('\n').map((line) => JSON.parse(line) as { subject: string; details: { tags: string[]; added: string[]; removed: string[] } });
    assert.deepEqual(cliEntries.map((e) => e.details).reverse().slice(0, 3), [
      { tags: ['canary', 'eu', 'fleet-berlin', 'pilot'], added: ['canary', 'fleet-berlin'], removed: ['lab'] },
      { tags: [], added: [], removed: ['canary', 'eu', 'fleet-berlin', 'pilot'] },
      { tags: ['a', 'b'], added: ['a', 'b'], removed: [] },
    ]);
  });

  await t.test('a deployment to a tag: each vehicle\'s state in it is listed, and filtered by (state=)', async () => {
    const release = await alice.upload('edt-3.0.0.bin', image('EDT 3.0.0'), { ecu: 'EDT', firmware_version: '3.0.0' });
    assert.equal(release.status, 200, release.text);
    const id = await deploy(server, [release.json<{ release: { id: number } }>().release.id], { tags: ['pilot'] }, { name: 'EDT 3.0.0 to pilots' });
    const status = await car.fetch(`/api/v1/vehicles/${vin(1)}/deployment-status`, {
      method: 'POST', headers: { ...bearer(tokens[0]!), 'content-type': 'application/json' },
      body: JSON.stringify({ campaign_id: String(id), state: 'downloading', percent: 40, ecu: 'EDT' }),
    });
    assert.equal(status.status, 200, status.text);
    const downloading = await list(erin, '?state=downloading');
    assert.deepEqual(tail(downloading), ['1']);
    const { deployment } = downloading.vehicles[0] as unknown as { deployment: Record<string, unknown> };
    assert.deepEqual({ ...deployment, updated_at: undefined }, {
      id, name: 'EDT 3.0.0 to pilots', status: 'running', state: 'downloading', percent: 40, ecu: 'EDT', reason: null, updated_at: undefined,
    });
    assert.deepEqual(tail(await list(erin, '?state=assigned')), ['2'], 'the other pilot is told, not heard from yet');
    const others = (await list(erin, '?tag=fleet-munich')).vehicles[0] as unknown as { deployment: unknown };
    assert.equal(others.deployment, null, 'in no deployment');
    const page = await erin.fetch('/vehicles?state=downloading');
    assert.match(page.text, new RegExp(`<a href="/deployments/${id}">EDT 3\\.0\\.0 to pilots</a>:\\s*<span class="outcome outcome-downloading">downloading</span> EDT 40 %`));
    assert.match(page.text, /<option value="downloading" selected>downloading<\/option>/);
    assert.equal((await erin.fetch('/api/v1/vehicles?state=busy')).status, 400);
  });

  await t.test('--online-window: a vehicle last in touch longer ago than the window is offline', async () => {
    // As if vehicle 1's last contact were 121 s and vehicle 2's 119 s ago (the window is 120 s here).
    const storage = await openStorage(`sqlite:${server.databaseFile}`);
    try {
      for (const [n, ago] of [[1, 121_000], [2, 119_000]] as const) {
        await storage.database.db.updateTable('vehicles').set({ last_seen_at: Date.now() - ago }).where('vin', '=', vin(n)).execute();
      }
    } finally {
      await storage.close();
    }
    assert.deepEqual(tail(await list(erin, '?online=false')), ['1', '5']);
    assert.deepEqual((await list(erin, '?q=FLT00000002')).vehicles[0]!.online, true);
    assert.match((await erin.fetch(`/vehicles/${vin(1)}`)).text, /presence-offline/);
  });
});
