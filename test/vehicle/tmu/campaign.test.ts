import { test } from 'node:test';
import assert from 'node:assert/strict';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { campaignId, installOrder, offerFor, planCampaign, type Candidate } from '../../../src/vehicle/tmu/campaign.ts';

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
