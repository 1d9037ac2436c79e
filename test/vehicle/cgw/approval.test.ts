import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NegativeResponseError } from '../../../src/can/uds/index.ts';
import { APPROVAL_ROUTINE, PROGRESS_ROUTINE, encodePayload } from '../../../src/vehicle/cgw/approval-protocol.ts';
import { InvalidApprovalMessageError } from '../../../src/vehicle/cgw/errors.ts';
import { PolicyHmi } from '../../../src/vehicle/cgw/hmi/policy.ts';
import { TerminalPromptHmi } from '../../../src/vehicle/cgw/hmi/terminal-prompt.ts';
import { edtOffer, eventually, gatewayRig } from './support.ts';

const silent = () => new Writable({ write: (_chunk, _encoding, done) => done() });

/** The terminal prompt on in-memory streams: the test types the driver's answers. */
function promptOnStreams() {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  const hmi = new TerminalPromptHmi({ input, output });
  return {
    hmi,
    output: () => text,
    questions: () => text.split('Software update ').length - 1,
    answer: (line: string) => input.write(`${line}\n`),
    waitForQuestion: (count = 1) => eventually(() => text.split('Install now?').length - 1 >= count && text.split('Software update ').length - 1 >= count, `question ${count}`),
  };
}

const nrcOf = (nrc: number) => (error: unknown) => error instanceof NegativeResponseError && error.nrc === nrc;

test('policy "auto": approved at once, the firewall opens for EDT, progress and result, then it closes', async (t) => {
  const warnings: string[] = [];
  const warn = new Writable({ write: (chunk, _encoding, done) => { warnings.push(String(chunk)); done(); } });
  const { cgw, approval, edtReachable } = await gatewayRig(t, { hmi: new PolicyHmi('auto', { warn }) });
  assert.match(warnings.join(''), /^WARNING: driver approval policy "auto"/m);

  assert.equal(await edtReachable(), false, 'closed before the offer');
  await approval.offer(edtOffer());
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'approved' });
  assert.equal(cgw.gateway.firewall.open, true);
  assert.deepEqual(cgw.gateway.firewall.ecus, ['EDT']);
  assert.equal(await edtReachable(), true);

  await approval.progress({ ecu: 'EDT', phase: 'programming', percent: 42 });
  assert.deepEqual(cgw.approval.snapshot().progress.EDT, { ecu: 'EDT', phase: 'programming', percent: 42 });
  await approval.finish({ outcome: 'success', ecus: { EDT: { version: '2.0.0' } }, message: 'all good' });
  const snapshot = cgw.approval.snapshot();
  assert.equal(snapshot.phase, 'finished');
  assert.deepEqual(snapshot.result, { outcome: 'success', ecus: { EDT: { version: '2.0.0' } }, message: 'all good' });
  assert.equal(cgw.gateway.firewall.open, false);
  assert.equal(cgw.gateway.firewall.closeReason, 'stop');
  assert.equal(await edtReachable(), false, 'closed after the stop');
});

test('policy "decline": declined, the firewall stays closed', async (t) => {
  const { cgw, approval, edtReachable } = await gatewayRig(t, { hmi: new PolicyHmi('decline', { warn: silent() }) });
  await approval.offer(edtOffer());
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'declined' });
  assert.equal(cgw.approval.snapshot().declineReason, 'policy "decline"');
  assert.equal(cgw.gateway.firewall.open, false);
  assert.equal(await edtReachable(), false);
  await approval.finish({ outcome: 'failed', message: 'declined by the driver' });
  assert.equal(cgw.approval.phase, 'finished');
});

test('the driver decides: pending until answered, postponed with the remaining time, the same offer is not asked twice', async (t) => {
  const prompt = promptOnStreams();
  const { cgw, approval, edtReachable } = await gatewayRig(t, { hmi: prompt.hmi });

  await approval.offer(edtOffer());
  await prompt.waitForQuestion();
  assert.match(prompt.output(), /Software update campaign-42:\n {2}EDT: 1\.0\.0 -> 2\.0\.0 \(1\.0 MiB, about \d+ s\)/);
  assert.match(prompt.output(), /Release notes:\n {4}Better range\.\n {4}Quieter inverter\./);
  assert.deepEqual(await approval.poll(), { state: 'pending' });
  prompt.answer('maybe');
  await eventually(() => prompt.output().includes('Please answer y, n or l'), 'the prompt asks again');
  assert.deepEqual(await approval.poll(), { state: 'pending' });

  prompt.answer('later 30');
  const postponed = await approval.waitForDecision({ intervalMs: 20 });
  assert.equal(postponed.state, 'postponed');
  assert.ok(postponed.state === 'postponed' && postponed.retryAfterSeconds > 1790 && postponed.retryAfterSeconds <= 1800);
  assert.equal(await edtReachable(), false);

  // The TMU asks again too early with the same offer: nothing is shown, still postponed.
  await approval.offer(edtOffer());
  assert.equal((await approval.poll()).state, 'postponed');
  assert.equal(prompt.questions(), 1);

  // A newer release replaces the postponed offer and is asked.
  await approval.offer(edtOffer({ campaign_id: 'campaign-43' }));
  await prompt.waitForQuestion(2);
  // A different offer while this one is pending is refused (0x22); the pending one is untouched.
  await assert.rejects(approval.offer(edtOffer({ campaign_id: 'campaign-44' })), nrcOf(0x22));
  assert.equal(cgw.approval.snapshot().offer!.campaignId, 'campaign-43');
  prompt.answer('y');
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'approved' });
  assert.equal(await edtReachable(), true);
  // Approved and being installed: a different offer is refused too.
  await assert.rejects(approval.offer(edtOffer({ campaign_id: 'other' })), nrcOf(0x22));
  assert.equal(prompt.questions(), 2);
});

test('bad offers, progress and results are refused with NRCs and the CGW keeps serving', async (t) => {
  const { cgw, approval, channel } = await gatewayRig(t, { hmi: new PolicyHmi('decline', { warn: silent() }) });
  const uds = approval.uds;
  // What the TMU sends, authenticated like the ApprovalClient does, but with any payload.
  const send = async (controlType: number, routine: number, payload: Uint8Array | string) => {
    const request = await channel.secure(controlType, routine, typeof payload === 'string' ? new TextEncoder().encode(payload) : payload);
    const response = await uds.routineControl(controlType, routine, request.record);
    return channel.open(controlType, routine, request.freshness, response!.status);
  };
  const start = (routine: number, payload: Uint8Array | string) => send(0x01, routine, payload);

  // Default session: the routine does not exist there; extended, but without the TMU's MAC: refused.
  await assert.rejects(uds.startRoutine(APPROVAL_ROUTINE, encodePayload(edtOffer())), nrcOf(0x31));
  await uds.diagnosticSessionControl(0x03);
  await assert.rejects(uds.startRoutine(APPROVAL_ROUTINE, encodePayload(edtOffer())), nrcOf(0x33));
  assert.equal(cgw.channel.counters.malformed + cgw.channel.counters.macFailures, 1, 'counted');
  await approval.connect();

  const bad: [string, Uint8Array | string][] = [
    ['empty', new Uint8Array(0)],
    ['not JSON', '{"campaign_id": '],
    ['not UTF-8', Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)],
    ['an array', '[]'],
    ['no ECUs', JSON.stringify({ ...edtOffer(), ecus: [] })],
    ['unknown ECU', JSON.stringify(edtOffer({ ecus: [{ name: 'ABS', from: '1', to: '2', size: 1, sha256: 'ab'.repeat(32) }] }))],
    ['bad sha256', JSON.stringify(edtOffer({ ecus: [{ name: 'EDT', from: '1', to: '2', size: 1, sha256: 'xyz' }] }))],
    ['negative size', JSON.stringify(edtOffer({ ecus: [{ name: 'EDT', from: '1', to: '2', size: -1, sha256: 'ab'.repeat(32) }] }))],
    ['twice the same ECU', JSON.stringify(edtOffer({ ecus: [0, 1].map(() => ({ name: 'EDT', from: '1', to: '2', size: 1, sha256: 'ab'.repeat(32) })) }))],
    ['too big', JSON.stringify(edtOffer({ notes: 'x'.repeat(40_000) }))],
  ];
  for (const [what, payload] of bad) {
    await assert.rejects(start(APPROVAL_ROUTINE, payload), nrcOf(0x31), what);
  }
  assert.equal(cgw.approval.phase, 'idle', 'no bad offer reached the driver');
  // Results and stop before any start: the UDS server refuses (routine not started).
  await assert.rejects(uds.requestRoutineResults(APPROVAL_ROUTINE), nrcOf(0x24));

  await approval.offer(edtOffer());
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'declined' });
  // Progress needs an approved update.
  await assert.rejects(start(PROGRESS_ROUTINE, encodePayload({ ecu: 'EDT', phase: 'programming', percent: 1 })), nrcOf(0x24));
  await assert.rejects(start(PROGRESS_ROUTINE, '{"ecu":"EDT"}'), nrcOf(0x31));
  await assert.rejects(send(0x02, APPROVAL_ROUTINE, encodePayload({ outcome: 'maybe' })), nrcOf(0x31));
  // The client refuses to send what the CGW would refuse.
  await assert.rejects(approval.progress({ ecu: 'EDT', phase: 'Programming!', percent: 500 }), InvalidApprovalMessageError);

  // Still serving.
  await approval.finish({ outcome: 'failed', message: 'declined' });
  assert.equal(cgw.approval.phase, 'finished');
});

test('progress for an ECU outside the offer is refused; an approval lapses after the inactivity period', async (t) => {
  const { cgw, approval, edtReachable } = await gatewayRig(t, {
    hmi: new PolicyHmi('auto', { warn: silent() }), inactivityMs: 700, testerPresentIntervalMs: 0,
  });
  await approval.offer(edtOffer());
  assert.equal((await approval.waitForDecision({ intervalMs: 20 })).state, 'approved');
  await assert.rejects(approval.progress({ ecu: 'TMU', phase: 'programming', percent: 5 }), nrcOf(0x31));

  // Traffic keeps it open …
  for (let i = 0; i < 4; i += 1) {
    assert.equal(await edtReachable(), true);
    await sleep(200);
  }
  // … silence closes it.
  await eventually(() => !cgw.gateway.firewall.open, 'the inactivity close', 3000);
  assert.equal(cgw.gateway.firewall.closeReason, 'inactivity');
  assert.equal(cgw.approval.phase, 'expired');
  assert.equal(await edtReachable(), false);
  await assert.rejects(approval.poll(), nrcOf(0x22));
  await approval.finish({ outcome: 'failed', message: 'the firewall closed' });
  assert.equal(cgw.approval.phase, 'finished');
});

test('the client re-opens a lost CGW session and re-attaches to its offer without asking the driver again', async (t) => {
  const prompt = promptOnStreams();
  const { cgw, approval } = await gatewayRig(t, { hmi: prompt.hmi });
  await approval.offer(edtOffer());
  await prompt.waitForQuestion();
  prompt.answer('yes');
  assert.equal((await approval.waitForDecision({ intervalMs: 20 })).state, 'approved');

  // Whatever ended the session (S3, a reset of the CGW's diagnostic state), the routine is no longer started.
  await approval.uds.diagnosticSessionControl(0x01);
  await approval.progress({ ecu: 'EDT', phase: 'erasing', percent: 0 });
  await approval.uds.diagnosticSessionControl(0x01);
  assert.deepEqual(await approval.poll(), { state: 'approved' });
  await approval.uds.diagnosticSessionControl(0x01);
  await approval.finish({ outcome: 'success', ecus: { EDT: { version: '2.0.0' } } });
  assert.equal(cgw.approval.phase, 'finished');
  assert.equal(prompt.questions(), 1, 'the driver was asked once');
  assert.match(prompt.output(), /EDT: erasing 0%/);
  assert.match(prompt.output(), /Update installed\.\n {2}EDT: version 2\.0\.0/);
});
