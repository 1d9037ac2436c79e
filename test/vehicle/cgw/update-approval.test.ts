import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { approvalOfferSchema, type ApprovalOffer, type UpdateProgress, type UpdateResult } from '../../../src/vehicle/cgw/approval-protocol.ts';
import { UpdateApproval, type ApprovalSnapshot } from '../../../src/vehicle/cgw/approval.ts';
import {
  ApprovalConflictError, ApprovalLapsedError, ApprovalSequenceError, InvalidApprovalMessageError,
} from '../../../src/vehicle/cgw/errors.ts';
import { estimateEcuSeconds } from '../../../src/vehicle/cgw/estimate.ts';
import { MAX_POSTPONE_SECONDS, type DriverDecision, type DriverHmi, type PresentedOffer } from '../../../src/vehicle/cgw/hmi/driver-hmi.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import type { RememberedApproval } from '../../../src/vehicle/cgw/approval-memory.ts';
import { VIN, edtOffer } from './support.ts';

const config = standardVehicleConfig(VIN);
const offerOf = (overrides: Parameters<typeof edtOffer>[0] = {}): ApprovalOffer => approvalOfferSchema.parse(edtOffer(overrides));

/** A driver the test answers for: each question waits until `answer` is called, or fails as told. */
class ScriptedDriver implements DriverHmi {
  readonly kind = 'hmi' as const;
  readonly asked: { offer: PresentedOffer; signal: AbortSignal; answer: (decision: DriverDecision) => void; fail: (error: Error) => void }[] = [];
  readonly progressShown: UpdateProgress[] = [];
  readonly results: UpdateResult[] = [];
  readonly resumes: string[] = [];
  throwOnPresent: Error | null = null;
  throwOnShow: Error | null = null;

  present(offer: PresentedOffer, signal: AbortSignal): Promise<DriverDecision> {
    if (this.throwOnPresent) throw this.throwOnPresent;
    return new Promise((resolve, reject) => {
      this.asked.push({ offer, signal, answer: resolve, fail: reject });
    });
  }

  progress(progress: UpdateProgress): void {
    this.progressShown.push(progress);
    if (this.throwOnShow) throw this.throwOnShow;
  }

  result(result: UpdateResult): void {
    this.results.push(result);
    if (this.throwOnShow) throw this.throwOnShow;
  }

  resumed(offer: PresentedOffer, approvedAt: string): void {
    this.resumes.push(`${offer.campaignId} ${approvedAt}`);
  }

  async close(): Promise<void> {}

  /** The latest question's answer, then a turn of the event loop for the CGW to take it. */
  async decide(decision: DriverDecision, index = this.asked.length - 1): Promise<void> {
    this.asked[index]!.answer(decision);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A fake store: what the approval asked it to remember and forget. */
class RecordingMemory {
  readonly calls: string[] = [];
  readonly remembered: RememberedApproval[] = [];
  remember(approval: RememberedApproval): void {
    this.remembered.push(approval);
    this.calls.push(`remember ${approval.campaignId} ${approval.decidedAt}`);
  }
  forget(): void {
    this.calls.push('forget');
  }
}

function logLines() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as { level: number; msg: string });
      done();
    },
  }));
  return { logger, lines };
}

function rig(options: { remembered?: RememberedApproval | null } = {}) {
  const driver = new ScriptedDriver();
  const memory = new RecordingMemory();
  let now = Date.parse('2026-12-08T10:00:00.000Z');
  const { logger, lines } = logLines();
  const approval = new UpdateApproval({
    config, hmi: driver, now: () => now, logger,
    memory: { store: memory as never, remembered: options.remembered ?? null },
  });
  const changes: ApprovalSnapshot[] = [];
  const approved: PresentedOffer[] = [];
  const ended: ApprovalSnapshot[] = [];
  approval.on('change', (snapshot) => changes.push(snapshot));
  approval.on('approved', (offer) => approved.push(offer));
  approval.on('ended', (snapshot) => ended.push(snapshot));
  return {
    approval, driver, memory, lines, changes, approved, ended,
    advance: (ms: number) => { now += ms; },
    now: () => now,
  };
}

test('an offer for an ECU the vehicle lacks is refused, naming it and the vehicle\'s ECUs', () => {
  const { approval, driver } = rig();
  assert.throws(() => approval.offer(offerOf({ ecus: [{ name: 'ABS', from: '1', to: '2', size: 1, sha256: 'ab'.repeat(32) }] })),
    (error: unknown) => error instanceof InvalidApprovalMessageError && error.message === 'the vehicle has no ECU ABS (it has TMU, CGW, EDT)');
  assert.equal(approval.phase, 'idle');
  assert.equal(driver.asked.length, 0);
});

test('the driver sees the offer with each ECU\'s bus and estimate, the totals, the notes and when it came', () => {
  const { approval, driver, changes } = rig();
  const offer = offerOf({
    ecus: [
      { name: 'EDT', from: '1.0.0', to: '2.0.0', size: 1 << 20, sha256: 'ab'.repeat(32) },
      { name: 'CGW', from: '1.0.0', to: '1.1.0', size: 4096, sha256: 'cd'.repeat(32) },
    ],
  });
  assert.equal(approval.offer(offer), 'presented');
  const shown = driver.asked[0]!.offer;
  assert.deepEqual(shown.ecus.map((ecu) => [ecu.name, ecu.bus, ecu.estimatedSeconds]),
    [['EDT', 'canb', estimateEcuSeconds(config, 'EDT', 1 << 20)], ['CGW', 'cant', estimateEcuSeconds(config, 'CGW', 4096)]]);
  assert.equal(shown.totalBytes, (1 << 20) + 4096);
  assert.equal(shown.estimatedSeconds, estimateEcuSeconds(config, 'EDT', 1 << 20) + estimateEcuSeconds(config, 'CGW', 4096));
  assert.equal(shown.notes, 'Better range.\nQuieter inverter.');
  assert.equal(shown.campaignId, 'campaign-42');
  assert.equal(shown.receivedAt, '2026-12-08T10:00:00.000Z');
  assert.deepEqual(shown.offer, offer);
  assert.match(shown.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(approval.phase, 'pending');
  assert.deepEqual(approval.status(), { state: 'pending' });
  assert.equal(changes.at(-1)!.phase, 'pending');
  assert.deepEqual(changes.at(-1)!.offer, shown);
});

test('one question at a time: the same offer is not asked twice, another one is refused while pending or installing', async () => {
  const { approval, driver, memory, approved, lines } = rig();
  assert.equal(approval.offer(offerOf()), 'presented');
  assert.equal(approval.offer(offerOf()), 'unchanged');
  assert.throws(() => approval.offer(offerOf({ campaign_id: 'other' })),
    (error: unknown) => error instanceof ApprovalConflictError && error.message === 'campaign campaign-42 is waiting for the driver; stop it first');
  assert.equal(driver.asked.length, 1);
  assert.equal(driver.asked[0]!.signal.aborted, false, 'a refused offer does not withdraw the question');

  await driver.decide({ decision: 'approve' });
  assert.equal(approval.phase, 'approved');
  assert.deepEqual(approval.status(), { state: 'approved' });
  assert.equal(approval.snapshot().decidedAt, '2026-12-08T10:00:00.000Z');
  assert.deepEqual(memory.calls, ['remember campaign-42 2026-12-08T10:00:00.000Z']);
  assert.equal(approved.length, 1);
  assert.equal(approved[0]!.id, driver.asked[0]!.offer.id);
  assert.ok(lines.some((line) => line.msg === 'cgw driver approved the update'));

  assert.equal(approval.offer(offerOf()), 'unchanged');
  assert.throws(() => approval.offer(offerOf({ campaign_id: 'other' })), /campaign campaign-42 is being installed; stop it first/);
  assert.equal(driver.asked.length, 1);
  assert.equal(approval.phase, 'approved');
});

test('a declined offer keeps its reason (or none); a new offer, even the same, is asked again', async () => {
  const { approval, driver } = rig();
  approval.offer(offerOf());
  await driver.decide({ decision: 'decline', reason: 'not now' });
  assert.equal(approval.phase, 'declined');
  assert.deepEqual(approval.status(), { state: 'declined' });
  assert.equal(approval.snapshot().declineReason, 'not now');
  assert.equal(approval.offer(offerOf()), 'presented');
  assert.equal(driver.asked.length, 2);
  assert.equal(approval.snapshot().declineReason, null, 'a new question starts clean');
  await driver.decide({ decision: 'decline' });
  assert.equal(approval.snapshot().declineReason, null);
  assert.equal(approval.offer(offerOf({ campaign_id: 'other' })), 'presented');
  assert.equal(driver.asked.length, 3);
});

test('a postponement: the remaining seconds, rounded up; the same offer waits it out, another one is asked at once', async () => {
  const { approval, driver, advance } = rig();
  approval.offer(offerOf());
  await driver.decide({ decision: 'postpone', seconds: 30 });
  assert.equal(approval.phase, 'postponed');
  assert.deepEqual(approval.status(), { state: 'postponed', retryAfterSeconds: 30 });
  assert.equal(approval.snapshot().postponedUntil, '2026-12-08T10:00:30.000Z');
  advance(10_500);
  assert.deepEqual(approval.status(), { state: 'postponed', retryAfterSeconds: 20 });
  assert.equal(approval.offer(offerOf()), 'unchanged');
  advance(19_499);
  assert.deepEqual(approval.status(), { state: 'postponed', retryAfterSeconds: 1 });
  assert.equal(approval.offer(offerOf()), 'unchanged');
  advance(1);
  assert.deepEqual(approval.status(), { state: 'postponed', retryAfterSeconds: 0 });
  advance(5000);
  assert.deepEqual(approval.status(), { state: 'postponed', retryAfterSeconds: 0 }, 'never negative');
  assert.equal(driver.asked.length, 1);
  assert.equal(approval.offer(offerOf()), 'presented', 'asked again once the postponement ran out');
  assert.equal(driver.asked.length, 2);

  await driver.decide({ decision: 'postpone', seconds: 60 });
  assert.equal(approval.offer(offerOf({ campaign_id: 'other' })), 'presented');
  assert.equal(approval.phase, 'pending');
});

test('a postponement is held to 1 s … 30 days, a whole number of seconds; one of no length is an hour', async () => {
  const cases: [number, number][] = [[0.2, 1], [-5, 1], [0, 1], [1.4, 1], [2.5, 3], [MAX_POSTPONE_SECONDS + 10, MAX_POSTPONE_SECONDS], [Number.NaN, 3600], [Infinity, 3600]];
  for (const [asked, expected] of cases) {
    const { approval, driver } = rig();
    approval.offer(offerOf());
    await driver.decide({ decision: 'postpone', seconds: asked });
    assert.deepEqual(approval.status(), { state: 'postponed', retryAfterSeconds: expected }, `asked ${asked}`);
  }
});

test('status, progress and grants outside their phase are refused, each with its reason', async () => {
  const { approval, driver, advance } = rig();
  assert.throws(() => approval.status(), (error: unknown) => error instanceof ApprovalSequenceError && error.message === 'there is no offer');
  assert.throws(() => approval.approvedFor('EDT'),
    (error: unknown) => error instanceof ApprovalSequenceError && error.message === 'no grant: there is no approved update (the offer is idle)');
  assert.throws(() => approval.progress({ ecu: 'EDT', phase: 'erasing', percent: 0 }),
    (error: unknown) => error instanceof ApprovalSequenceError && error.message === 'progress needs an approved update (the offer is idle)');
  approval.offer(offerOf());
  assert.throws(() => approval.approvedFor('EDT'), /\(the offer is pending\)/);
  assert.throws(() => approval.progress({ ecu: 'EDT', phase: 'erasing', percent: 0 }), /\(the offer is pending\)/);
  await driver.decide({ decision: 'postpone', seconds: 5 });
  assert.throws(() => approval.approvedFor('EDT'), /\(the offer is postponed\)/);
  advance(1);
  approval.stop({ outcome: 'failed', ecus: {}, message: 'postponed' });
  assert.throws(() => approval.status(), /there is no offer/);
  assert.throws(() => approval.approvedFor('EDT'), /\(the offer is finished\)/);
});

test('a grant names the approval (the presentation\'s UUID as 16 bytes) and the approved image, only for the offer\'s ECUs', async () => {
  const { approval, driver } = rig();
  approval.offer(offerOf({
    ecus: [
      { name: 'EDT', from: '1.0.0', to: '2.0.0', size: 1 << 20, sha256: 'ab'.repeat(32) },
      { name: 'CGW', from: '1.0.0', to: '1.1.0', size: 4096, sha256: 'cd'.repeat(32) },
    ],
  }));
  await driver.decide({ decision: 'approve' });
  const id = driver.asked[0]!.offer.id;
  const edt = approval.approvedFor('EDT');
  assert.equal(Buffer.from(edt.updateId).toString('hex'), id.replaceAll('-', ''));
  assert.equal(edt.updateId.length, 16);
  assert.deepEqual(edt.image, { sha256: 'ab'.repeat(32), size: 1 << 20 });
  const cgw = approval.approvedFor('CGW');
  assert.deepEqual(cgw.updateId, edt.updateId, 'one id for every grant of one approval');
  assert.deepEqual(cgw.image, { sha256: 'cd'.repeat(32), size: 4096 });
  assert.throws(() => approval.approvedFor('TMU'),
    (error: unknown) => error instanceof InvalidApprovalMessageError && error.message === 'no grant: TMU is not part of campaign campaign-42');
});

test('progress is kept per ECU and shown; an HMI that fails to show it does not fail the request', async () => {
  const { approval, driver, lines } = rig();
  approval.offer(offerOf());
  await driver.decide({ decision: 'approve' });
  approval.progress({ ecu: 'EDT', phase: 'erasing', percent: 0 });
  approval.progress({ ecu: 'EDT', phase: 'programming', percent: 42 });
  assert.deepEqual(approval.snapshot().progress, { EDT: { ecu: 'EDT', phase: 'programming', percent: 42 } });
  assert.equal(driver.progressShown.length, 2);
  assert.throws(() => approval.progress({ ecu: 'TMU', phase: 'erasing', percent: 0 }),
    (error: unknown) => error instanceof InvalidApprovalMessageError && error.message === 'TMU is not part of campaign campaign-42');
  driver.throwOnShow = new Error('screen off');
  approval.progress({ ecu: 'EDT', phase: 'programming', percent: 50 });
  assert.equal(approval.snapshot().progress.EDT!.percent, 50);
  assert.ok(lines.some((line) => line.level === 40 && line.msg === 'cgw HMI failed to show the progress'));
});

test('stop: the result is kept and shown, the question withdrawn, the approval forgotten, and "ended" emitted once', async () => {
  const { approval, driver, memory, ended } = rig();
  assert.throws(() => approval.stop({ outcome: 'failed', ecus: {} }),
    (error: unknown) => error instanceof ApprovalSequenceError && error.message === 'there is no offer to stop');
  approval.offer(offerOf());
  // Withdrawn while pending: the HMI stops asking, and nothing was remembered to forget.
  approval.stop({ outcome: 'failed', ecus: {}, message: 'withdrawn' });
  assert.equal(driver.asked[0]!.signal.aborted, true);
  assert.equal(approval.phase, 'finished');
  assert.deepEqual(memory.calls, []);
  assert.equal(ended.length, 1);
  assert.equal(ended[0]!.phase, 'finished');
  assert.throws(() => approval.stop({ outcome: 'failed', ecus: {} }), /there is no offer to stop/);
  // A late answer to the withdrawn question changes nothing.
  await driver.decide({ decision: 'approve' }, 0);
  assert.equal(approval.phase, 'finished');

  approval.offer(offerOf());
  await driver.decide({ decision: 'approve' });
  const result: UpdateResult = { outcome: 'success', ecus: { EDT: { version: '2.0.0' } }, message: 'done' };
  approval.stop(result);
  assert.deepEqual(approval.snapshot().result, result);
  assert.deepEqual(driver.results, [{ outcome: 'failed', ecus: {}, message: 'withdrawn' }, result]);
  assert.deepEqual(memory.calls, ['remember campaign-42 2026-12-08T10:00:00.000Z', 'forget']);
  assert.equal(ended.length, 2);
  assert.deepEqual(ended[1]!.result, result);
  // Forgotten once: a further stop of a new, never approved offer forgets nothing.
  approval.offer(offerOf());
  approval.stop({ outcome: 'failed', ecus: {} });
  assert.deepEqual(memory.calls, ['remember campaign-42 2026-12-08T10:00:00.000Z', 'forget']);
});

test('an HMI that fails to show the result does not fail the stop', async () => {
  const { approval, driver, lines, ended } = rig();
  approval.offer(offerOf());
  await driver.decide({ decision: 'approve' });
  driver.throwOnShow = new Error('screen off');
  approval.stop({ outcome: 'success', ecus: {} });
  assert.equal(approval.phase, 'finished');
  assert.equal(ended.length, 1);
  assert.ok(lines.some((line) => line.msg === 'cgw HMI failed to show the result'));
});

test('a lapse ends only an approved update: no status, progress or grant after it; the driver is told why', async () => {
  const { approval, driver } = rig();
  approval.expire(120);
  assert.equal(approval.phase, 'idle');
  approval.offer(offerOf());
  approval.expire(120);
  assert.equal(approval.phase, 'pending', 'a question is not lapsed');
  await driver.decide({ decision: 'approve' });
  approval.expire(120);
  assert.equal(approval.phase, 'expired');
  assert.deepEqual(driver.results, [{
    outcome: 'failed', ecus: {}, message: 'The update stopped: no diagnostic traffic for 120 s, so the gateway closed its firewall.',
  }]);
  assert.throws(() => approval.status(),
    (error: unknown) => error instanceof ApprovalLapsedError && error.message === 'the approval lapsed: no diagnostic traffic for too long, the firewall closed');
  assert.throws(() => approval.progress({ ecu: 'EDT', phase: 'erasing', percent: 0 }),
    (error: unknown) => error instanceof ApprovalLapsedError && error.message === 'the approval lapsed; progress is no longer shown');
  assert.throws(() => approval.approvedFor('EDT'),
    (error: unknown) => error instanceof ApprovalLapsedError && error.message === 'the approval lapsed; no grant without a new approval');
  // The same offer again is not a new approval; another offer is asked.
  assert.equal(approval.offer(offerOf()), 'unchanged');
  assert.equal(approval.phase, 'expired');
  assert.equal(approval.offer(offerOf({ campaign_id: 'other' })), 'presented');
  assert.equal(approval.phase, 'pending');
});

test('an HMI that cannot ask (throws or fails) declines with the reason; one withdrawn meanwhile decides nothing', async () => {
  const { approval, driver, lines } = rig();
  driver.throwOnPresent = new Error('no terminal');
  approval.offer(offerOf());
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(approval.phase, 'declined');
  assert.equal(approval.snapshot().declineReason, 'the HMI failed: no terminal');
  assert.ok(lines.some((line) => line.level === 50 && line.msg === 'cgw HMI failed to ask the driver; declining'));

  driver.throwOnPresent = null;
  approval.offer(offerOf({ campaign_id: 'two' }));
  driver.asked[0]!.fail(new Error('browser gone'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(approval.snapshot().declineReason, 'the HMI failed: browser gone');

  approval.offer(offerOf({ campaign_id: 'three' }));
  approval.close();
  assert.equal(driver.asked[1]!.signal.aborted, true, 'close withdraws the question');
  driver.asked[1]!.fail(new Error('aborted'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(approval.phase, 'pending', 'the failure of a withdrawn question is not a decision');
});

test('a new question withdraws the one before', async () => {
  const { approval, driver } = rig();
  approval.offer(offerOf());
  await driver.decide({ decision: 'postpone', seconds: 60 });
  approval.offer(offerOf({ campaign_id: 'other' }));
  assert.equal(driver.asked.length, 2);
  // The first question was answered; the HMI's signal of the second is live.
  assert.equal(driver.asked[1]!.signal.aborted, false);
  // An answer naming the first presentation does not decide the second.
  await driver.decide({ decision: 'approve' }, 0);
  assert.equal(approval.phase, 'pending');
  await driver.decide({ decision: 'approve' }, 1);
  assert.equal(approval.phase, 'approved');
  assert.equal(approval.snapshot().offer!.campaignId, 'other');
});

test('the offer the driver approved before a restart is approved again without asking; another one is asked', async () => {
  const before = rig();
  before.approval.offer(offerOf());
  before.advance(5000);
  await before.driver.decide({ decision: 'approve' });
  const remembered = before.memory.remembered[0]!;
  assert.deepEqual(remembered, { offerKey: remembered.offerKey, campaignId: 'campaign-42', decidedAt: '2026-12-08T10:00:05.000Z' });

  const after = rig({ remembered });
  after.advance(60_000);
  assert.equal(after.approval.offer(offerOf()), 'resumed');
  assert.equal(after.driver.asked.length, 0, 'the driver is not asked again');
  assert.equal(after.approval.phase, 'approved');
  const snapshot = after.approval.snapshot();
  assert.equal(snapshot.decidedAt, '2026-12-08T10:00:05.000Z', 'approved when the driver approved it');
  assert.equal(snapshot.offer!.campaignId, 'campaign-42');
  assert.equal(snapshot.offer!.receivedAt, '2026-12-08T10:01:00.000Z');
  assert.deepEqual(after.driver.resumes, ['campaign-42 2026-12-08T10:00:05.000Z']);
  assert.equal(after.approved.length, 1);
  assert.deepEqual(after.approved[0], snapshot.offer);
  assert.ok(after.lines.some((line) => line.msg === 'cgw resumes the update the driver approved before the restart'));
  assert.equal(after.approval.offer(offerOf()), 'unchanged');
  after.approval.stop({ outcome: 'success', ecus: {} });
  assert.deepEqual(after.memory.calls, ['forget']);

  const other = rig({ remembered });
  assert.equal(other.approval.offer(offerOf({ notes: 'other notes' })), 'presented', 'only the identical offer resumes');
  assert.equal(other.driver.asked.length, 1);
  assert.equal(other.approval.phase, 'pending');
});

test('an answer to a withdrawn question does not decide the question that replaced it', async () => {
  const { approval, driver } = rig();
  approval.offer(offerOf());
  approval.stop({ outcome: 'failed', ecus: {}, message: 'withdrawn' });
  const first = driver.asked[0]!;
  assert.equal(first.signal.aborted, true);
  assert.equal((first.signal.reason as Error).message, 'the offer was withdrawn');
  approval.offer(offerOf());
  assert.equal(approval.phase, 'pending');
  await driver.decide({ decision: 'approve' }, 0);
  assert.equal(approval.phase, 'pending', 'the HMI answered the withdrawn presentation, not this one');
  await driver.decide({ decision: 'decline' }, 1);
  assert.equal(approval.phase, 'declined');
});

test('a postponed offer that the TMU stopped is asked again at once; the postponement ends at its last millisecond', async () => {
  const { approval, driver, advance } = rig();
  approval.offer(offerOf());
  await driver.decide({ decision: 'postpone', seconds: 30 });
  approval.stop({ outcome: 'failed', ecus: {}, message: 'postponed' });
  assert.equal(approval.offer(offerOf()), 'presented', 'a stopped offer is over, postponed or not');
  assert.equal(driver.asked.length, 2);
  await driver.decide({ decision: 'postpone', seconds: 30 });
  advance(29_999);
  assert.equal(approval.offer(offerOf()), 'unchanged');
  advance(1);
  assert.equal(approval.offer(offerOf()), 'presented');
});

test('without a memory, a logger or an HMI\'s resumed(), the approval works the same', async () => {
  const asked: PresentedOffer[] = [];
  let fail = false;
  const hmi: DriverHmi = {
    kind: 'prompt',
    present: async (offer) => {
      asked.push(offer);
      if (fail) throw new Error('no terminal');
      return { decision: 'approve' };
    },
    progress: () => { throw new Error('screen off'); },
    result: () => {},
    close: async () => {},
  };
  const approval = new UpdateApproval({ config, hmi });
  approval.offer(offerOf());
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(approval.phase, 'approved');
  approval.progress({ ecu: 'EDT', phase: 'erasing', percent: 0 });
  approval.stop({ outcome: 'success', ecus: {} });
  fail = true;
  approval.offer(offerOf({ campaign_id: 'two' }));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(approval.snapshot().declineReason, 'the HMI failed: no terminal');

  // Resumed after a restart by an HMI that has no resumed(): nothing to warn about.
  const first = rig();
  first.approval.offer(offerOf());
  await first.driver.decide({ decision: 'approve' });
  const { logger, lines } = logLines();
  const resumedWithout = new UpdateApproval({
    config, hmi: { ...hmi, present: async () => ({ decision: 'approve' }) }, logger,
    memory: { store: new RecordingMemory() as never, remembered: first.memory.remembered[0]! },
  });
  assert.equal(resumedWithout.offer(offerOf()), 'resumed');
  assert.equal(lines.filter((line) => line.level >= 40).length, 0);
});

test('an offer naming several ECUs the vehicle lacks names them all', () => {
  const { approval } = rig();
  assert.throws(() => approval.offer(offerOf({
    ecus: ['ABS', 'BMS'].map((name) => ({ name, from: '1', to: '2', size: 1, sha256: 'ab'.repeat(32) })),
  })), /^InvalidApprovalMessageError: the vehicle has no ECU ABS, BMS \(it has TMU, CGW, EDT\)$/);
});

test('the CGW\'s log records each step of the driver\'s decision, with the campaign', async () => {
  const records = async (decision: DriverDecision) => {
    const { approval, driver, lines, advance } = rig();
    approval.offer(offerOf());
    advance(1000);
    await driver.decide(decision);
    return { approval, driver, lines: lines as unknown as Record<string, unknown>[] };
  };
  const find = (lines: Record<string, unknown>[], msg: string) => {
    const line = lines.find((candidate) => candidate.msg === msg);
    assert.ok(line, msg);
    return line;
  };
  const approved = await records({ decision: 'approve' });
  const shown = find(approved.lines, 'cgw offer shown to the driver');
  assert.equal(shown.campaign, 'campaign-42');
  assert.deepEqual(shown.ecus, ['EDT 1.0.0→2.0.0']);
  assert.equal(shown.hmi, 'hmi');
  assert.equal(find(approved.lines, 'cgw driver approved the update').campaign, 'campaign-42');
  approved.driver.throwOnShow = new Error('screen off');
  approved.approval.expire(120);
  const lapsed = find(approved.lines, 'cgw approval lapsed');
  assert.deepEqual([lapsed.campaign, lapsed.inactiveSeconds, lapsed.level], ['campaign-42', 120, 40]);
  assert.equal(approved.lines.filter((candidate) => candidate.msg === 'cgw HMI failed to show the result').length, 1, 'the lapse\'s message');
  approved.approval.stop({ outcome: 'failed', ecus: {}, message: 'lapsed' });
  assert.equal(approved.lines.filter((candidate) => candidate.msg === 'cgw HMI failed to show the result').length, 2, 'and the result');
  const finished = find(approved.lines, 'cgw update finished');
  assert.deepEqual([finished.campaign, finished.outcome, finished.after], ['campaign-42', 'failed', 'expired']);
  const warned = find(approved.lines, 'cgw HMI failed to show the result');
  assert.equal((warned.err as { message: string }).message, 'screen off');
  assert.equal(warned.hmi, 'hmi');

  const declined = await records({ decision: 'decline', reason: 'busy' });
  const line = find(declined.lines, 'cgw driver declined the update');
  assert.deepEqual([line.campaign, line.reason], ['campaign-42', 'busy']);
  const postponed = await records({ decision: 'postpone', seconds: 90 });
  const later = find(postponed.lines, 'cgw driver postponed the update');
  assert.deepEqual([later.campaign, later.seconds], ['campaign-42', 90]);

  const failing = rig();
  failing.driver.throwOnPresent = new Error('no terminal');
  failing.approval.offer(offerOf());
  await new Promise((resolve) => setImmediate(resolve));
  const error = find(failing.lines as unknown as Record<string, unknown>[], 'cgw HMI failed to ask the driver; declining');
  assert.deepEqual([(error.err as { message: string }).message, error.hmi], ['no terminal', 'hmi']);

  const before = rig();
  before.approval.offer(offerOf());
  await before.driver.decide({ decision: 'approve' });
  const after = rig({ remembered: before.memory.remembered[0]! });
  after.driver.resumed = () => { throw new Error('screen off'); };
  after.approval.offer(offerOf());
  const resumed = find(after.lines as unknown as Record<string, unknown>[], 'cgw resumes the update the driver approved before the restart');
  assert.deepEqual([resumed.campaign, resumed.approvedAt], ['campaign-42', '2026-12-08T10:00:00.000Z']);
  find(after.lines as unknown as Record<string, unknown>[], 'cgw HMI failed to show the resumed update');
});
