import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApprovalMemory } from '../../../src/vehicle/cgw/approval-memory.ts';
import { approvalOfferSchema } from '../../../src/vehicle/cgw/approval-protocol.ts';
import { UpdateApproval } from '../../../src/vehicle/cgw/approval.ts';
import type { DriverDecision, DriverHmi, PresentedOffer } from '../../../src/vehicle/cgw/hmi/driver-hmi.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { VIN, edtOffer } from './support.ts';

/** A driver who approves every question, and remembers what the HMI was shown. */
class RecordingDriver implements DriverHmi {
  readonly kind = 'hmi' as const;
  readonly asked: PresentedOffer[] = [];
  readonly resumes: string[] = [];
  constructor(private readonly answer: DriverDecision) {}
  async present(offer: PresentedOffer): Promise<DriverDecision> {
    this.asked.push(offer);
    return this.answer;
  }
  progress(): void {}
  result(): void {}
  resumed(offer: PresentedOffer, approvedAt: string): void {
    this.resumes.push(`${offer.campaignId} ${approvedAt}`);
  }
  async close(): Promise<void> {}
}

const offer = approvalOfferSchema.parse(edtOffer());
const config = standardVehicleConfig(VIN);

async function cgwAfterPowerUp(dir: string, driver: DriverHmi): Promise<{ approval: UpdateApproval; memory: ApprovalMemory }> {
  const memory = new ApprovalMemory(dir);
  return { approval: new UpdateApproval({ config, hmi: driver, memory: { store: memory, remembered: await memory.load() } }), memory };
}

test('an approval survives a restart until the update ends; only the identical offer resumes it, without asking', async (t) => {
  const dir = await tempDir(t, 'canota-approval-');
  const before = await cgwAfterPowerUp(dir, new RecordingDriver({ decision: 'approve' }));
  assert.equal(before.approval.offer(offer), 'presented');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(before.approval.phase, 'approved');
  await before.memory.settled();
  const record = JSON.parse(await readFile(join(dir, 'approval.json'), 'utf8')) as { campaignId: string };
  assert.equal(record.campaignId, 'campaign-42');

  // Power loss, then a driver who would say no: the approved update goes on, nobody is asked.
  const decliner = new RecordingDriver({ decision: 'decline' });
  const after = await cgwAfterPowerUp(dir, decliner);
  const opened: string[] = [];
  after.approval.on('approved', (presented) => opened.push(presented.campaignId));
  assert.equal(after.approval.offer(offer), 'resumed');
  assert.equal(after.approval.phase, 'approved');
  assert.deepEqual(opened, ['campaign-42'], 'the firewall opens again');
  assert.equal(decliner.asked.length, 0);
  assert.equal(decliner.resumes.length, 1);

  // The update ends: the record goes, and the next power-up asks the driver about anything again.
  after.approval.stop({ outcome: 'success', ecus: {} });
  await after.memory.settled();
  await assert.rejects(readFile(join(dir, 'approval.json')), { code: 'ENOENT' });
  const later = await cgwAfterPowerUp(dir, decliner);
  assert.equal(later.approval.offer(offer), 'presented');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(later.approval.phase, 'declined');
});

test('a different offer after the restart is asked as usual; a damaged record asks the driver', async (t) => {
  const dir = await tempDir(t, 'canota-approval-');
  const before = await cgwAfterPowerUp(dir, new RecordingDriver({ decision: 'approve' }));
  before.approval.offer(offer);
  await new Promise((resolve) => setImmediate(resolve));
  await before.memory.settled();

  const driver = new RecordingDriver({ decision: 'decline' });
  const other = approvalOfferSchema.parse(edtOffer({ campaign_id: 'campaign-43' }));
  const after = await cgwAfterPowerUp(dir, driver);
  assert.equal(after.approval.offer(other), 'presented');
  assert.equal(driver.asked.length, 1);

  await writeFile(join(dir, 'approval.json'), '{"offerKey": 42');
  const damaged = await cgwAfterPowerUp(dir, driver);
  assert.equal(damaged.approval.offer(offer), 'presented');
  assert.equal(driver.asked.length, 2);
});
