import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { estimateEcuSeconds } from '../../../src/vehicle/cgw/estimate.ts';
import { parseVehicleConfig, standardVehicleConfig } from '../../../src/vehicle/config.ts';
import {
  campaignId, describeCampaign, installOrder, isKnownEcu, offerFor, planCampaign, withTarget, type Candidate,
} from '../../../src/vehicle/tmu/campaign.ts';

const config = standardVehicleConfig('WCANTACAMPA1GN001');

function candidate(ecu: string, version: string, sha: string, notes = ''): Candidate {
  return {
    from: '1.0.0',
    announced: {
      ecu, firmwareVersion: version, notes, manifest: null,
      release: { filename: `${ecu.toLowerCase()}.bin`, mtime: 0, sha256: sha.repeat(64), size: 1000, ecu, firmwareVersion: version, releaseId: '7', uploadedAt: undefined },
    },
  };
}

test('a campaign id names exactly which image goes to which ECU, in any order', () => {
  const a = campaignId([{ ecu: 'EDT', sha256: 'a'.repeat(64) }, { ecu: 'CGW', sha256: 'b'.repeat(64) }]);
  assert.match(a, /^c-[0-9a-f]{16}$/);
  assert.equal(campaignId([{ ecu: 'CGW', sha256: 'b'.repeat(64) }, { ecu: 'EDT', sha256: 'a'.repeat(64) }]), a);
  assert.notEqual(campaignId([{ ecu: 'EDT', sha256: 'a'.repeat(64) }]), a);
  assert.notEqual(campaignId([{ ecu: 'EDT', sha256: 'c'.repeat(64) }, { ecu: 'CGW', sha256: 'b'.repeat(64) }]), a);
  // The same image for another ECU is another campaign.
  assert.notEqual(campaignId([{ ecu: 'CGW', sha256: 'a'.repeat(64) }, { ecu: 'EDT', sha256: 'b'.repeat(64) }]), a);
});

test('install order: ECUs behind the gateway first, then the gateway, then the TMU itself', () => {
  assert.deepEqual(installOrder(config, ['TMU', 'CGW', 'EDT']), ['EDT', 'CGW', 'TMU']);
  assert.deepEqual(installOrder(config, ['CGW', 'TMU']), ['CGW', 'TMU']);
});

test('the offer: per ECU from → to with size and SHA-256, notes per ECU, an estimate', () => {
  const campaign = planCampaign(config, [candidate('TMU', '1.1.0', 'c'), candidate('EDT', '2.0.0', 'a', 'More range.\n')], new Date(0));
  assert.deepEqual(campaign.targets.map((target) => [target.ecu, target.from, target.to, target.status]),
    [['EDT', '1.0.0', '2.0.0', 'pending'], ['TMU', '1.0.0', '1.1.0', 'pending']]);
  assert.equal(campaign.plannedAt, '1970-01-01T00:00:00.000Z');
  const offer = offerFor(config, campaign);
  assert.equal(offer.campaign_id, campaign.id);
  assert.deepEqual(offer.ecus, [
    { name: 'EDT', from: '1.0.0', to: '2.0.0', size: 1000, sha256: 'a'.repeat(64) },
    { name: 'TMU', from: '1.0.0', to: '1.1.0', size: 1000, sha256: 'c'.repeat(64) },
  ]);
  assert.equal(offer.notes, 'EDT 2.0.0: More range.');
  assert.ok((offer.estimated_seconds ?? 0) >= 6, 'at least the per-ECU overhead');
  // One ECU: its notes as they are.
  assert.equal(offerFor(config, planCampaign(config, [candidate('EDT', '2.0.0', 'a', 'More range.')])).notes, 'More range.');
});

test('the campaign id is stable across versions: c- and the first 16 hex digits of SHA-256 over the sorted "ECU:sha256" lines', () => {
  // The CGW remembers an approval, and the TMU a declined campaign, by this id across restarts and updates of the TMU.
  const lines = `CGW:${'b'.repeat(64)}\nEDT:${'a'.repeat(64)}`;
  const expected = `c-${createHash('sha256').update(lines).digest('hex').slice(0, 16)}`;
  assert.equal(campaignId([{ ecu: 'EDT', sha256: 'a'.repeat(64) }, { ecu: 'CGW', sha256: 'b'.repeat(64) }]), expected);
});

test('install order among ECUs behind the gateway: the config\'s order, whatever order they come in', () => {
  const raw = {
    vin: 'WCANTACAMPA1GN002',
    buses: { cant: { driver: 'virtual' }, canb: { driver: 'virtual' } },
    ecus: [
      { name: 'TMU', bus: 'cant', requestId: 0x720, responseId: 0x728, statusId: 0x520, hardwareId: 'HW' },
      { name: 'BMS', bus: 'canb', requestId: 0x740, responseId: 0x748, statusId: 0x540, hardwareId: 'HW' },
      { name: 'CGW', bus: 'cant', requestId: 0x710, responseId: 0x718, statusId: 0x510, hardwareId: 'HW' },
      { name: 'EDT', bus: 'canb', requestId: 0x730, responseId: 0x738, statusId: 0x530, hardwareId: 'HW' },
      { name: 'ADAS', bus: 'canb', requestId: 0x750, responseId: 0x758, statusId: 0x550, hardwareId: 'HW' },
    ],
    gateway: { ecu: 'CGW', routes: [] },
  };
  const big = parseVehicleConfig(raw);
  assert.deepEqual(installOrder(big, ['ADAS', 'TMU', 'EDT', 'CGW', 'BMS']), ['BMS', 'EDT', 'ADAS', 'CGW', 'TMU']);
  assert.deepEqual(installOrder(big, ['EDT', 'BMS']), ['BMS', 'EDT']);
  assert.deepEqual(installOrder(big, ['ADAS', 'EDT', 'BMS']), ['BMS', 'EDT', 'ADAS']);
  const input = ['EDT', 'BMS'];
  installOrder(big, input);
  assert.deepEqual(input, ['EDT', 'BMS'], 'the caller\'s list is not sorted in place');
});

test('the offer\'s notes: blank notes left out, each trimmed, ECUs apart by a blank line, at most 8000 characters', () => {
  const campaign = planCampaign(config, [
    candidate('EDT', '2.0.0', 'a', '  More range.\n'), candidate('CGW', '1.1.0', 'b', ' \n\t '), candidate('TMU', '1.1.0', 'c', '\nFaster downloads. '),
  ]);
  assert.equal(offerFor(config, campaign).notes, 'EDT 2.0.0: More range.\n\nTMU 1.1.0: Faster downloads.');
  assert.equal(offerFor(config, planCampaign(config, [candidate('EDT', '2.0.0', 'a', '  \n')])).notes, '');
  assert.equal(offerFor(config, planCampaign(config, [candidate('EDT', '2.0.0', 'a', ' x ')])).notes, 'x');
  const long = offerFor(config, planCampaign(config, [candidate('EDT', '2.0.0', 'a', 'n'.repeat(9000))])).notes;
  assert.equal(long, 'n'.repeat(8000));
});

test('the offer\'s estimate is the sum of each ECU\'s, and an unknown size counts as 0', () => {
  const one = offerFor(config, planCampaign(config, [candidate('EDT', '2.0.0', 'a')])).estimated_seconds;
  const two = offerFor(config, planCampaign(config, [candidate('EDT', '2.0.0', 'a'), candidate('TMU', '1.1.0', 'c')]));
  assert.equal(two.estimated_seconds, estimateEcuSeconds(config, 'EDT', 1000) + estimateEcuSeconds(config, 'TMU', 1000));
  assert.equal(one, estimateEcuSeconds(config, 'EDT', 1000));
  const unsized = candidate('EDT', '2.0.0', 'a');
  const release = { ...unsized.announced.release, size: undefined };
  const offer = offerFor(config, planCampaign(config, [{ ...unsized, announced: { ...unsized.announced, release } }]));
  assert.equal(offer.ecus[0]!.size, 0);
});

test('a planned campaign: every target pending at 0 %, no path, offer, attempt, outcome or report yet', () => {
  const campaign = planCampaign(config, [candidate('EDT', '2.0.0', 'a', 'n')], new Date(1000));
  assert.deepEqual(campaign, {
    id: campaignId([{ ecu: 'EDT', sha256: 'a'.repeat(64) }]), plannedAt: '1970-01-01T00:00:01.000Z',
    targets: [{
      ecu: 'EDT', from: '1.0.0', to: '2.0.0', release: candidate('EDT', '2.0.0', 'a').announced.release, notes: 'n', manifest: null,
      path: null, status: 'pending', percent: 0,
    }],
    offer: null, attempts: 0, outcome: null, message: null, reportFile: null,
  });
});

test('withTarget changes one ECU\'s target in a new campaign, leaving the old one as it was', () => {
  const campaign = planCampaign(config, [candidate('EDT', '2.0.0', 'a'), candidate('TMU', '1.1.0', 'c')]);
  const next = withTarget(campaign, 'TMU', (target) => ({ ...target, status: 'installed', percent: 100 }));
  assert.deepEqual(next.targets.map((target) => [target.ecu, target.status, target.percent]), [['EDT', 'pending', 0], ['TMU', 'installed', 100]]);
  assert.deepEqual(campaign.targets.map((target) => target.status), ['pending', 'pending']);
  assert.equal(next.targets[0], campaign.targets[0]);
});

test('describeCampaign and isKnownEcu', () => {
  const campaign = planCampaign(config, [candidate('EDT', '2.0.0', 'a'), { ...candidate('TMU', '1.1.0', 'c'), from: '' }]);
  assert.equal(describeCampaign(campaign), 'EDT 1.0.0→2.0.0, TMU ?→1.1.0');
  assert.equal(isKnownEcu(config, 'EDT'), true);
  assert.equal(isKnownEcu(config, 'XYZ'), false);
});
