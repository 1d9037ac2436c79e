import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UpdateProgress } from '../../../src/vehicle/cgw/approval-protocol.ts';
import { ApprovalResponseError } from '../../../src/vehicle/cgw/errors.ts';
import { campaignId } from '../../../src/vehicle/tmu/campaign.ts';
import { DownloadFailedError, ReleaseRejectedError, ServerApiError } from '../../../src/vehicle/tmu/errors.ts';
import { FlashStepError, ImageRefusedError } from '../../../src/vehicle/tmu/flash-errors.ts';
import type { TmuState } from '../../../src/vehicle/tmu/tmu-state.ts';
import { release, tmuRig } from './tmu-fakes.ts';

/**
 * The TMU's state machine with every part faked (tmu-fakes.ts) but its state file and report outbox,
 * which are the real ones in a temp dir: each phase, each failure, each restart.
 */

const approved = { state: 'approved' } as const;
const idOf = (...releases: ReturnType<typeof release>[]) => campaignId(releases.map((r) => ({ ecu: r.ecu, sha256: r.release.sha256 })));
const results = (state: TmuState) => state.campaign?.targets.map((target) => `${target.ecu}:${target.status}`);

test('a whole update: idle → downloading → verified → awaiting-approval → updating → reporting → idle, every step saved first', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  const edt = release('EDT', '2.0.0', 'Faster starts');
  const cgw = release('CGW', '1.1.0');
  rig.server.releases = [cgw, edt];
  const saves: string[] = [];
  rig.store.failing = (state) => {
    saves.push(`${state.phase} ${results(state)?.join(',') ?? ''}`.trim());
    return false;
  };
  const pausedAtCgw: number[] = [];
  rig.ecus.behaviour.set('CGW', { onCall: () => pausedAtCgw.push(rig.approval.relay.paused) });
  const progress: UpdateProgress[] = [];
  rig.tmu.on('progress', (update) => progress.push(update));
  const statuses: string[] = [];
  rig.tmu.on('target-status', (ecu, status) => statuses.push(`${ecu}:${status}`));

  await rig.cycle();

  assert.deepEqual(rig.phases, ['downloading', 'verified', 'awaiting-approval', 'updating', 'reporting', 'idle']);
  const id = idOf(edt, cgw);
  // ECUs behind the gateway first, then the gateway.
  assert.deepEqual(rig.downloads.fetched, ['EDT 2.0.0', 'CGW 1.1.0']);
  assert.equal(rig.approval.offers.length, 1);
  const [offer] = rig.approval.offers;
  assert.equal(offer!.campaign_id, id);
  assert.deepEqual(offer!.ecus.map((ecu) => `${ecu.name} ${ecu.from}→${ecu.to} ${ecu.size}`), ['EDT 1.0.0→2.0.0 1000', 'CGW 1.0.0→1.1.0 1000']);
  assert.equal(offer!.notes, 'EDT 2.0.0: Faster starts');
  // All checked before any is activated, all activated and looked at again before any is confirmed; the HMI
  // relay paused while the gateway itself is flashed, reset or confirmed.
  assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'CGW:bootState', 'EDT:program', 'CGW:program', 'EDT:activate', 'CGW:activate',
    'EDT:bootState', 'CGW:bootState', 'EDT:confirm', 'CGW:confirm']);
  assert.deepEqual(pausedAtCgw, [1, 1, 1]);
  assert.equal(rig.approval.relay.paused, 0);
  assert.deepEqual(statuses, ['EDT:programmed', 'CGW:programmed', 'EDT:activated', 'CGW:activated', 'EDT:installed', 'CGW:installed']);
  assert.ok(progress.some((update) => update.ecu === 'EDT' && update.phase === 'programming' && update.percent === 50));
  assert.deepEqual([rig.ecus.version('EDT'), rig.ecus.version('CGW'), rig.ecus.version('TMU')], ['2.0.0', '1.1.0', '1.0.0']);
  // Every transition and every ECU's step was on disk before the TMU went on.
  assert.deepEqual(saves, [
    'downloading EDT:pending,CGW:pending',
    'downloading EDT:downloaded,CGW:pending',
    'downloading EDT:downloaded,CGW:downloaded',
    'verified EDT:downloaded,CGW:downloaded',
    'awaiting-approval EDT:downloaded,CGW:downloaded',
    'updating EDT:downloaded,CGW:downloaded',
    'updating EDT:downloaded,CGW:downloaded',
    'updating EDT:programmed,CGW:downloaded',
    'updating EDT:programmed,CGW:programmed',
    'updating EDT:activated,CGW:programmed',
    'updating EDT:activated,CGW:activated',
    'updating EDT:installed,CGW:activated',
    'updating EDT:installed,CGW:installed',
    'reporting EDT:installed,CGW:installed',
    'reporting EDT:installed,CGW:installed',
    'idle',
  ]);
  // Reported to the server, and the result to the CGW (which closes the firewall).
  assert.equal(rig.server.reports.length, 1);
  const [report] = rig.server.reports;
  assert.deepEqual([report!.campaign_id, report!.outcome, report!.message], [id, 'success', 'Installed EDT 2.0.0, CGW 1.1.0.']);
  assert.deepEqual(report!.updates.map((u) => `${u.ecu} ${u.from}→${u.to} ${u.release_id} ${u.result}`), ['EDT 1.0.0→2.0.0 EDT-2.0.0 installed', 'CGW 1.0.0→1.1.0 CGW-1.1.0 installed']);
  assert.equal(report!.ecus.EDT!.version, '2.0.0');
  assert.equal(report!.at, '2030-01-01T00:00:00.000Z');
  assert.equal(rig.approval.finished.length, 1);
  assert.equal(rig.approval.finished[0]!.outcome, 'success');
  assert.deepEqual(rig.approval.finished[0]!.ecus!.EDT, { outcome: 'installed', version: '2.0.0' });
  assert.deepEqual(await rig.outbox.pending(), []);
  const saved = await rig.saved();
  assert.deepEqual([saved.phase, saved.campaign, saved.deferred], ['idle', null, {}]);
  assert.deepEqual(rig.tmu.state, saved);

  // Up to date now: the next poll asks the server and does nothing else.
  saves.length = 0;
  await rig.cycle();
  assert.equal(rig.server.polls, 2);
  assert.deepEqual(saves, []);
  assert.equal(rig.approval.offers.length, 1);
  assert.ok(rig.logs.includes('up to date'));
});

test('declined: nothing flashed, reported, not offered again before --reoffer-after, then offered again', async (t) => {
  const rig = await tmuRig(t, { driver: [{ state: 'declined' }] });
  const edt = release('EDT', '2.0.0');
  rig.server.releases = [edt];
  await rig.cycle();
  assert.deepEqual(rig.phases, ['downloading', 'verified', 'awaiting-approval', 'reporting', 'idle']);
  assert.deepEqual(rig.ecus.calls, []);
  const [report] = rig.server.reports;
  assert.deepEqual([report!.outcome, report!.message], ['declined', 'the driver declined the update']);
  assert.deepEqual(report!.updates.map((u) => u.result), ['not-attempted']);
  // A declined offer needs no result on the CGW: the driver's answer ended it.
  assert.deepEqual(rig.approval.finished, []);
  const id = idOf(edt);
  assert.deepEqual((await rig.saved()).deferred, { [id]: { reason: 'declined', until: '2030-01-01T01:00:00.000Z' } });

  // An hour less a second: still deferred.
  rig.clock.advance(3599);
  rig.approval.script = [approved];
  await rig.cycle();
  assert.equal(rig.approval.offers.length, 1);
  assert.deepEqual(rig.downloads.fetched, ['EDT 2.0.0']);
  assert.ok(rig.logs.some((line) => line.startsWith(`campaign ${id} (EDT 1.0.0→2.0.0) was declined; not offered again before`)));

  // The hour is up: the same campaign is asked again, and installed; the ended deferral is forgotten.
  rig.clock.advance(2);
  await rig.cycle();
  assert.deepEqual(rig.approval.offers.map((offer) => offer.campaign_id), [id, id]);
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['declined', 'success']);
  assert.deepEqual((await rig.saved()).deferred, {});
});

test('declined, then a newer release: a new campaign, asked at once', async (t) => {
  const rig = await tmuRig(t, { driver: [{ state: 'declined' }, approved] });
  rig.server.releases = [release('EDT', '2.0.0')];
  await rig.cycle();
  const newer = release('EDT', '2.0.1');
  rig.server.releases = [newer];
  await rig.cycle();
  assert.deepEqual(rig.approval.offers.map((offer) => offer.ecus[0]!.to), ['2.0.0', '2.0.1']);
  assert.equal(rig.approval.offers[1]!.campaign_id, idOf(newer));
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['declined', 'success']);
  assert.equal(rig.ecus.version('EDT'), '2.0.1');
});

test('postponed: reported, offered again only once the driver\'s delay is over, then installed', async (t) => {
  const rig = await tmuRig(t, { driver: [{ state: 'postponed', retryAfterSeconds: 600 }] });
  const edt = release('EDT', '2.0.0');
  rig.server.releases = [edt];
  await rig.cycle();
  const id = idOf(edt);
  assert.deepEqual(rig.server.reports.map((r) => [r.outcome, r.message]), [['postponed', 'the driver postponed the update until 2030-01-01T00:10:00.000Z']]);
  assert.deepEqual((await rig.saved()).deferred, { [id]: { reason: 'postponed', until: '2030-01-01T00:10:00.000Z' } });
  assert.deepEqual(rig.approval.finished, []);

  rig.approval.script = [approved];
  rig.clock.advance(300);
  await rig.cycle();
  assert.equal(rig.approval.offers.length, 1, 'not before the ten minutes');
  rig.clock.advance(301);
  await rig.cycle();
  assert.deepEqual(rig.approval.offers.map((offer) => offer.campaign_id), [id, id]);
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['postponed', 'success']);
  assert.equal(rig.ecus.version('EDT'), '2.0.0');
});

test('withdrawn while the driver thinks: newer releases make another campaign, which is offered instead', async (t) => {
  const edt = release('EDT', '2.0.0');
  const cgw = release('CGW', '1.1.0');
  const rig = await tmuRig(t);
  rig.server.releases = [edt];
  // A poll interval with the same releases keeps the offer; then a CGW release arrives.
  rig.approval.script = ['wait', () => rig.server.releases.push(cgw), 'wait'];
  await rig.cycle();
  assert.deepEqual(rig.phases, ['downloading', 'verified', 'awaiting-approval', 'idle']);
  assert.deepEqual(rig.approval.withdrawn, [`withdrawn: campaign ${idOf(edt, cgw)} replaces it`]);
  assert.deepEqual(rig.ecus.calls, []);
  assert.equal(rig.server.reports.length, 0, 'a withdrawn offer is not an outcome');
  assert.equal((await rig.saved()).phase, 'idle');

  rig.approval.script = [approved];
  await rig.cycle();
  assert.deepEqual(rig.approval.offers.map((offer) => offer.campaign_id), [idOf(edt), idOf(edt, cgw)]);
  assert.deepEqual(rig.server.reports.map((r) => [r.campaign_id, r.outcome]), [[idOf(edt, cgw), 'success']]);
});

test('a release that vanishes from the server while the driver thinks leaves the offer standing', async (t) => {
  const rig = await tmuRig(t);
  rig.server.releases = [release('EDT', '2.0.0')];
  rig.approval.script = [() => { rig.server.releases = []; }, 'wait', approved];
  await rig.cycle();
  assert.deepEqual(rig.approval.withdrawn, []);
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
});

test('the server cannot be asked: nothing changes, logged once, and the next poll goes on', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0')];
  rig.server.down = new ServerApiError('unreachable', 'GET /api/v1/releases/latest: connect ECONNREFUSED');
  const saves: string[] = [];
  rig.store.failing = (state) => {
    saves.push(state.phase);
    return false;
  };
  await rig.cycle();
  await rig.cycle();
  assert.equal(rig.server.polls, 2);
  assert.deepEqual(saves, []);
  assert.equal(rig.logs.filter((line) => line.startsWith('cannot ask the server for releases: GET')).length, 1);
  rig.server.down = null;
  await rig.cycle();
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
});

test('a download that fails (network): planned again at the next poll, nothing deferred', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0')];
  rig.downloads.failures.set('EDT', [new DownloadFailedError('EDT', 'network', 'socket hang up')]);
  await rig.cycle();
  assert.deepEqual(rig.phases, ['downloading', 'idle']);
  assert.deepEqual((await rig.saved()).deferred, {});
  assert.deepEqual(rig.approval.offers, []);
  assert.ok(rig.logs.some((line) => /: EDT: download failed \(network\): socket hang up; trying again at the next poll$/.test(line)));
  await rig.cycle();
  assert.deepEqual(rig.downloads.fetched, ['EDT 2.0.0', 'EDT 2.0.0']);
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
});

test('a release the TMU refuses (manifest, verification): the campaign fails, is reported and deferred, never offered', async (t) => {
  for (const refusal of [
    new ReleaseRejectedError('EDT', 'the manifest of edt-2.0.0.bin does not describe it'),
    new DownloadFailedError('EDT', 'verification-failed', 'SHA-256 mismatch'),
  ]) {
    const rig = await tmuRig(t, { driver: [approved] });
    const edt = release('EDT', '2.0.0');
    rig.server.releases = [edt];
    rig.downloads.failures.set('EDT', [refusal]);
    await rig.cycle();
    assert.deepEqual(rig.phases, ['downloading', 'reporting', 'idle']);
    const [report] = rig.server.reports;
    assert.deepEqual([report!.outcome, report!.message], ['failed', refusal.message]);
    assert.deepEqual(report!.updates.map((u) => [u.result, u.error]), [['failed', refusal.message]]);
    assert.equal((await rig.saved()).deferred[idOf(edt)]?.reason, 'failed');
    await rig.cycle();
    assert.deepEqual(rig.approval.offers, []);
    assert.deepEqual(rig.downloads.fetched, ['EDT 2.0.0']);
  }
});

test('an offer the CGW does not take: stays verified, offered again at the next poll', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0')];
  rig.approval.presentFailures.push(new ApprovalResponseError('approval status has 3 bytes, expected 1'));
  await rig.cycle();
  assert.equal((await rig.saved()).phase, 'verified');
  assert.equal(rig.tmu.state.phase, 'verified');
  assert.ok(rig.logs.includes('TMU verified step failed: approval status has 3 bytes, expected 1; trying again at the next poll'));
  await rig.cycle();
  assert.equal(rig.approval.offers.length, 1);
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
});

test('a transfer that fails is tried again from the erase; three failures fail the campaign with nothing activated', async (t) => {
  const timeout = () => new FlashStepError('EDT', 'download', new Error('no answer within 500 ms'));
  {
    const rig = await tmuRig(t, { driver: [approved] });
    rig.server.releases = [release('EDT', '2.0.0')];
    rig.ecus.behaviour.set('EDT', { programFailures: [timeout()] });
    await rig.cycle();
    assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'EDT:program', 'EDT:program', 'EDT:activate', 'EDT:bootState', 'EDT:confirm']);
    assert.ok(rig.logs.includes('EDT: try 1 of 3 failed; starting again from the erase'));
    assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
  }
  {
    const rig = await tmuRig(t, { driver: [approved] });
    const edt = release('EDT', '2.0.0');
    rig.server.releases = [edt];
    rig.ecus.behaviour.set('EDT', { programFailures: [timeout(), timeout(), timeout()] });
    await rig.cycle();
    assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'EDT:program', 'EDT:program', 'EDT:program']);
    const [report] = rig.server.reports;
    assert.equal(report!.outcome, 'failed');
    assert.match(report!.updates[0]!.error!, /^EDT: download failed: no answer within 500 ms$/);
    assert.equal(rig.approval.finished[0]!.outcome, 'failed');
    assert.equal((await rig.saved()).deferred[idOf(edt)]?.reason, 'failed');
    assert.deepEqual(rig.downloads.discarded, [], 'a transfer failure says nothing against the image');
  }
});

test('an image an ECU refuses: not sent again, nothing activated, the download discarded, the campaign failed', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0'), release('CGW', '1.1.0')];
  rig.ecus.behaviour.set('CGW', { programFailures: [new ImageRefusedError('CGW', 'release is for hardware CGW-HW-Z9')] });
  await rig.cycle();
  assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'CGW:bootState', 'EDT:program', 'CGW:program']);
  assert.deepEqual(rig.downloads.discarded, ['CGW /images/cgw-1.1.0.bin']);
  const [report] = rig.server.reports;
  assert.equal(report!.outcome, 'failed');
  assert.deepEqual(report!.updates.map((u) => `${u.ecu}:${u.result}`), ['EDT:not-attempted', 'CGW:failed']);
  assert.deepEqual([rig.ecus.version('EDT'), rig.ecus.version('CGW')], ['1.0.0', '1.0.0']);
});

test('all or nothing: an ECU that fails its boot rolls back every ECU that switched, newest first', async (t) => {
  {
    const rig = await tmuRig(t, { driver: [approved] });
    const releases = [release('EDT', '2.0.0'), release('CGW', '1.1.0')];
    rig.server.releases = releases;
    rig.ecus.behaviour.set('CGW', { activation: 'rotten' });
    await rig.cycle();
    assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'CGW:bootState', 'EDT:program', 'CGW:program', 'EDT:activate', 'CGW:activate', 'EDT:rollback']);
    const [report] = rig.server.reports;
    assert.equal(report!.outcome, 'rolled-back');
    assert.deepEqual(report!.updates.map((u) => `${u.ecu}:${u.result}`), ['EDT:rolled-back', 'CGW:failed']);
    assert.match(report!.message, /^CGW failed: booted 1\.0\.0 .*; rolled back 1 ECU\(s\) to their old versions$/);
    assert.deepEqual([rig.ecus.version('EDT'), rig.ecus.version('CGW')], ['1.0.0', '1.0.0']);
    assert.equal(rig.approval.finished[0]!.outcome, 'rolled-back');
    assert.equal((await rig.saved()).deferred[idOf(...releases)]?.reason, 'failed');
  }
  {
    // The TMU's own image failing last: the gateway, then EDT, go back.
    const rig = await tmuRig(t, { driver: [approved] });
    rig.server.releases = [release('TMU', '1.1.0'), release('EDT', '2.0.0'), release('CGW', '1.1.0')];
    rig.ecus.behaviour.set('TMU', { activation: 'rotten' });
    await rig.cycle();
    assert.deepEqual(rig.ecus.calls.filter((call) => !call.endsWith(':bootState')),
      ['EDT:program', 'CGW:program', 'TMU:program', 'EDT:activate', 'CGW:activate', 'TMU:activate', 'CGW:rollback', 'EDT:rollback']);
    assert.deepEqual(rig.server.reports[0]!.updates.map((u) => `${u.ecu}:${u.result}`), ['EDT:rolled-back', 'CGW:rolled-back', 'TMU:failed']);
    assert.deepEqual([rig.ecus.version('EDT'), rig.ecus.version('CGW'), rig.ecus.version('TMU')], ['1.0.0', '1.0.0', '1.0.0']);
  }
});

test('the CGW refusing the update\'s progress (or answering unauthentically) stops it: what switched is rolled back, nothing more is flashed', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0'), release('CGW', '1.1.0')];
  // The CGW says no to the progress that follows EDT's activation (e.g. a forged or lapsed approval).
  rig.approval.relay.refuseAt = { key: 'EDT:done', reason: 'the CGW refused the update\'s progress: conditionsNotCorrect (0x22)' };
  await rig.cycle();
  assert.deepEqual(rig.ecus.calls.filter((call) => !call.endsWith(':bootState')), ['EDT:program', 'CGW:program', 'EDT:activate', 'EDT:rollback']);
  const [report] = rig.server.reports;
  assert.equal(report!.outcome, 'rolled-back');
  assert.match(report!.message, /^CGW failed: stopped: the CGW refused the update's progress: conditionsNotCorrect \(0x22\); rolled back 1 ECU\(s\)/);
  assert.deepEqual([rig.ecus.version('EDT'), rig.ecus.version('CGW')], ['1.0.0', '1.0.0']);
});

test('restarted while downloading, or downloaded but not offered: planned again from the server\'s answer', async (t) => {
  for (const cut of ['downloading', 'verified'] as const) {
    const rig = await tmuRig(t);
    rig.server.releases = [release('EDT', '2.0.0')];
    const power = new AbortController();
    if (cut === 'downloading') rig.downloads.onFetch = () => power.abort();
    else {
      rig.approval.onPresent = () => {
        power.abort();
        throw power.signal.reason;
      };
    }
    await rig.cycle(power);
    assert.equal((await rig.saved()).phase, cut);
    rig.downloads.onFetch = undefined;

    await rig.restart([approved]);
    assert.equal((await rig.saved()).phase, 'idle', 'start plans it again');
    assert.deepEqual(rig.phases, []);
    await rig.cycle();
    assert.deepEqual(rig.downloads.fetched, ['EDT 2.0.0', 'EDT 2.0.0'], cut);
    assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
  }
});

test('restarted while the driver thinks: the very same offer is made again, nothing downloaded again', async (t) => {
  const rig = await tmuRig(t);
  const edt = release('EDT', '2.0.0', 'Notes');
  rig.server.releases = [edt];
  const power = new AbortController();
  rig.approval.script = [() => power.abort()];
  await rig.cycle(power);
  const before = await rig.saved();
  assert.equal(before.phase, 'awaiting-approval');
  const firstOffer = rig.approval.offers[0];

  await rig.restart([approved]);
  assert.ok(rig.logs.includes(`TMU resumes campaign ${idOf(edt)} (awaiting-approval)`));
  assert.deepEqual(rig.tmu.state, before);
  await rig.cycle();
  assert.deepEqual(rig.approval.offers, [firstOffer]);
  assert.deepEqual(rig.downloads.fetched, ['EDT 2.0.0']);
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
});

test('restarted in the middle of the flashing: approved again by the CGW, an ECU that already switched is not flashed again', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  const edt = release('EDT', '2.0.0');
  rig.server.releases = [edt, release('CGW', '1.1.0')];
  const power = new AbortController();
  rig.ecus.behaviour.set('CGW', { onCall: (step) => { if (step === 'activate') power.abort(); } });
  await rig.cycle(power);
  const cut = await rig.saved();
  assert.equal(cut.phase, 'updating');
  assert.equal(cut.campaign?.attempts, 1);
  assert.deepEqual(results(cut), ['EDT:activated', 'CGW:programmed']);
  assert.equal(rig.ecus.version('EDT'), '2.0.0');

  rig.ecus.behaviour.clear();
  rig.ecus.calls.length = 0;
  await rig.restart([approved]);
  assert.ok(rig.logs.includes(`TMU resumes campaign ${cut.campaign!.id} (updating)`));
  await rig.cycle();
  // The CGW is asked first (its approval survived the restart), then only the CGW is flashed.
  assert.equal(rig.approval.offers.length, 1);
  // EDT, found running its new image, is confirmed with the CGW at the end.
  assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'CGW:bootState', 'CGW:program', 'CGW:activate', 'EDT:bootState', 'CGW:bootState', 'EDT:confirm', 'CGW:confirm']);
  assert.deepEqual([...rig.ecus.confirmed].sort(), ['CGW', 'EDT', 'TMU']);
  assert.deepEqual(rig.server.reports.map((r) => [r.outcome, r.updates.map((u) => u.result).join()]), [['success', 'installed,installed']]);
  assert.deepEqual([rig.ecus.version('EDT'), rig.ecus.version('CGW')], ['2.0.0', '1.1.0']);
});

test('restarted in the flashing more often than maxUpdateAttempts: given up, reported as failed', async (t) => {
  const rig = await tmuRig(t, { driver: [approved], settings: { maxUpdateAttempts: 1 } });
  rig.server.releases = [release('EDT', '2.0.0')];
  const power = new AbortController();
  rig.ecus.behaviour.set('EDT', { onCall: () => power.abort() });
  await rig.cycle(power);
  assert.equal((await rig.saved()).phase, 'updating');
  rig.ecus.behaviour.clear();

  await rig.restart([approved]);
  await rig.cycle();
  assert.deepEqual(rig.approval.offers, [], 'not asked again');
  const [report] = rig.server.reports;
  assert.deepEqual([report!.outcome, report!.message], ['failed', 'gave up after 1 update attempts']);
  assert.equal(rig.ecus.version('EDT'), '1.0.0');
});

test('given up after an ECU had switched in an earlier attempt: it is rolled back, the vehicle ends on its old versions', async (t) => {
  const rig = await tmuRig(t, { driver: [approved], settings: { maxUpdateAttempts: 1 } });
  rig.server.releases = [release('EDT', '2.0.0'), release('CGW', '1.1.0')];
  const power = new AbortController();
  rig.ecus.behaviour.set('CGW', { onCall: (step) => { if (step === 'activate') power.abort(); } });
  await rig.cycle(power);
  assert.equal(rig.ecus.version('EDT'), '2.0.0', 'EDT switched before the power went');
  rig.ecus.behaviour.clear();
  rig.ecus.calls.length = 0;

  await rig.restart([approved]);
  await rig.cycle();
  assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'CGW:bootState', 'EDT:rollback'], 'nothing flashed, EDT rolled back');
  assert.deepEqual([rig.ecus.version('EDT'), rig.ecus.version('CGW')], ['1.0.0', '1.0.0']);
  const [report] = rig.server.reports;
  assert.deepEqual([report!.outcome, report!.message],
    ['rolled-back', 'gave up after 1 update attempts; rolled back 1 ECU(s) to their old versions']);
  assert.deepEqual(report!.updates.map((u) => `${u.ecu}:${u.result}`).sort(), ['CGW:not-attempted', 'EDT:rolled-back']);
  const saved = await rig.saved();
  assert.equal(saved.phase, 'idle');
  assert.ok(Object.values(saved.deferred).some((deferral) => deferral.reason === 'failed'), 'not tried again at the next poll');
});

test('restarted while reporting: the report is not written twice, the CGW is told the result, then idle', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0')];
  // The last save (reporting → idle) fails: the TMU stays in reporting, as the disk says.
  rig.store.failing = (state) => state.phase === 'idle';
  await rig.cycle();
  const stuck = await rig.saved();
  assert.equal(stuck.phase, 'reporting');
  assert.ok(stuck.phase === 'reporting' && stuck.campaign.reportFile);
  assert.deepEqual(rig.tmu.state, stuck);
  assert.equal(rig.server.reports.length, 1);
  assert.equal(rig.approval.finished.length, 1);

  await rig.restart();
  assert.ok(rig.logs.includes(`TMU resumes campaign ${stuck.campaign!.id} (reporting)`));
  await rig.cycle();
  assert.equal(rig.server.reports.length, 1, 'one report only');
  assert.deepEqual(await rig.outbox.pending(), []);
  assert.equal(rig.approval.finished[0]!.outcome, 'success');
  assert.equal((await rig.saved()).phase, 'idle');
});

test('a save that fails leaves the TMU where the disk is: an approval not saved is asked again, not installed', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0')];
  rig.store.failing = (state) => state.phase === 'updating';
  await rig.cycle();
  assert.equal(rig.store.failures, 1);
  const saved = await rig.saved();
  assert.equal(saved.phase, 'awaiting-approval');
  assert.deepEqual(rig.tmu.state, saved);
  assert.deepEqual(rig.ecus.calls, []);
  assert.ok(rig.logs.some((line) => /^TMU awaiting-approval step failed: cannot write .*: no space left on device; trying again at the next poll$/.test(line)));

  rig.store.failing = null;
  rig.approval.script = [approved];
  await rig.cycle();
  assert.equal(rig.approval.offers.length, 1);
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['success']);
});

test('a save that fails in the middle of the flashing: memory and disk agree, and the next poll runs the update again', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '2.0.0')];
  rig.store.failing = (state) => state.campaign?.targets.some((target) => target.status === 'programmed') ?? false;
  await rig.cycle();
  const saved = await rig.saved();
  assert.equal(saved.phase, 'updating');
  assert.deepEqual(results(saved), ['EDT:downloaded']);
  assert.equal(saved.campaign?.attempts, 1);
  assert.deepEqual(rig.tmu.state, saved);
  assert.deepEqual(rig.ecus.calls, ['EDT:bootState', 'EDT:program']);

  rig.store.failing = null;
  rig.approval.script = [approved];
  await rig.cycle();
  assert.deepEqual(rig.ecus.calls.slice(2), ['EDT:bootState', 'EDT:program', 'EDT:activate', 'EDT:bootState', 'EDT:confirm']);
  const done = rig.server.reports[0]!;
  assert.equal(done.outcome, 'success');
  assert.equal(rig.ecus.version('EDT'), '2.0.0');
});

test('the report outbox: kept while the server is down, sent oldest first when it is back; a refused report is set aside', async (t) => {
  const rig = await tmuRig(t, { driver: [{ state: 'declined' }] });
  rig.server.releases = [release('EDT', '2.0.0')];
  rig.server.refusesReports = new ServerApiError('server-error', 'POST /api/v1/vehicles/…/reports answered 503: busy', { status: 503 });
  await rig.cycle();
  rig.clock.advance(3601);
  rig.approval.script = [approved];
  await rig.cycle();
  // Both campaigns ran to the end; their reports wait on disk.
  assert.equal((await rig.saved()).phase, 'idle');
  assert.equal(rig.server.reports.length, 0);
  const pending = await rig.outbox.pending();
  assert.equal(pending.length, 2);
  const kept = await Promise.all(pending.map(async (name) => JSON.parse(await readFile(join(rig.directory, 'reports', name), 'utf8')) as { outcome: string }));
  assert.deepEqual(kept.map((report) => report.outcome), ['declined', 'success']);

  rig.server.refusesReports = null;
  await rig.cycle();
  assert.deepEqual(rig.server.reports.map((r) => r.outcome), ['declined', 'success']);
  assert.deepEqual(await rig.outbox.pending(), []);

  // A report the server refuses as malformed (400) cannot block the others: moved aside.
  rig.server.refusesReports = new ServerApiError('rejected', 'answered 400: bad report', { status: 400 });
  rig.server.releases = [release('EDT', '2.0.1')];
  rig.approval.script = [{ state: 'declined' }];
  await rig.cycle();
  assert.equal((await rig.saved()).phase, 'idle');
  assert.deepEqual(await rig.outbox.pending(), []);
  assert.equal((await readdir(join(rig.directory, 'reports', 'rejected'))).length, 1);
});

test('no campaign for an older release (a possible rollback attack) or for an ECU whose version is unknown', async (t) => {
  const rig = await tmuRig(t, { driver: [approved] });
  rig.server.releases = [release('EDT', '0.9.0'), release('CGW', '1.1.0')];
  rig.ecus.silent.add('CGW');
  await rig.cycle();
  assert.deepEqual(rig.phases, []);
  assert.deepEqual(rig.downloads.fetched, []);
  assert.ok(rig.logs.includes('refusing downgrade of EDT from 1.0.0 to 0.9.0 (possible rollback attack)'));
  assert.ok(rig.logs.includes('CGW does not tell its version (no status frame, no answer): nothing is offered to it for now'));
});

test('run polls every interval until stopped', async (t) => {
  const rig = await tmuRig(t);
  const stop = new AbortController();
  const waits: number[] = [];
  rig.clock.pause = async (ms: number) => {
    waits.push(ms);
    if (waits.length === 3) stop.abort();
    return !stop.signal.aborted;
  };
  await rig.tmu.run(stop.signal);
  assert.equal(rig.server.polls, 3);
  assert.ok(waits.every((ms) => ms >= 9000 && ms <= 11_000), `${waits.join()}`);
});
