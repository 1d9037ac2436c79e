import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { carDir, firmware, logLines, pendingReports, sha256, startVehicle, tmuState, vehicleStatus, waitForLog, writeCar } from './support.ts';

const VIN = 'WCANTAP0WER000001';

test('power loss (kill -9 of canota vehicle) while EDT is flashed: the old image still boots, and the update completes after the restart', async (t) => {
  const server = await startOtaServer(t);
  const stateDir = await carDir(t);
  // 300 kB/s: a 240 kB image takes most of a second to program, so the kill lands mid-download.
  await writeCar(stateDir, VIN, (config) => {
    config.ecus.find((ecu) => ecu.name === 'EDT')!.flash = { eraseBytesPerSecond: 0, programBytesPerSecond: 300_000 };
  });
  const first = await startVehicle(server.url, stateDir, ['--approve', 'auto']);
  const image = firmware(240_000);
  await server.upload('edt-3.0.0.bin', image, { ecu: 'EDT', firmware_version: '3.0.0' });

  await first.waitFor(/"ecu":"EDT","phase":"programming","percent":[3-6]\d,.*"msg":"flashing"/, 20_000);
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  const campaign = logLines(first, /^new releases: campaign/)[0]!.campaign as string;

  // The car is off: EDT's boot record still names the old image; the half-written bank is not taken for good.
  const off = (await vehicleStatus(stateDir)).ecus.EDT!;
  assert.deepEqual([off.version, off.active_bank, off.state], ['1.0.0', 'A', 'ok']);
  assert.equal(off.banks!.B.state, 'programming');
  const saved = await tmuState(stateDir);
  assert.equal(saved.phase, 'updating');
  assert.equal(saved.campaign?.id, campaign);

  // Power back: EDT boots 1.0.0, the TMU resumes the campaign, and the CGW resumes the driver's approval from
  // before the power loss without asking again — even a "decline" policy now cannot leave the update half
  // done — and the flash runs from the erase (the interrupted download counts for nothing).
  const second = await startVehicle(server.url, stateDir, ['--approve', 'decline']);
  const booted = logLines(second, /^ECU booted$/).find((line) => line.ecu === 'EDT')!;
  assert.deepEqual([booted.bank, booted.version], ['A', '1.0.0']);
  await waitForLog(second, new RegExp(`^TMU resumes campaign ${campaign} \\(updating\\)$`));
  const resumedApproval = await waitForLog(second, /^cgw resumes the update the driver approved before the restart$/);
  assert.equal(resumedApproval.campaign, campaign);
  const done = await waitForLog(second, new RegExp(`^campaign ${campaign} reported: success$`), 30_000);
  assert.equal(done.outcome, 'success');
  assert.equal(logLines(second, /^inactive bank erased$/).filter((line) => line.ecu === 'EDT').length, 1);

  assert.deepEqual(await readFile(join(stateDir, 'ecus', 'EDT', 'bank-B.img')), image);
  const edt = (await vehicleStatus(stateDir)).ecus.EDT!;
  assert.deepEqual([edt.version, edt.active_bank, edt.sha256, edt.state], ['3.0.0', 'B', sha256(image), 'ok']);
  // One report, for the attempt that finished; the download was not repeated either.
  const reports = await pendingReports(stateDir);
  assert.deepEqual(reports.map((report) => [report.campaign_id, report.outcome]), [[campaign, 'success']]);
  assert.equal(logLines(second, /^new release: downloading$/).length, 0);
  // The update ended: the approval is not kept for another restart.
  await assert.rejects(readFile(join(stateDir, 'ecus', 'CGW', 'approval.json')), { code: 'ENOENT' });
});

test('power loss while the TMU downloads: after the restart the download resumes where it stopped, and the update completes', async (t) => {
  const server = await startOtaServer(t);
  // A slow link (300 kB/s) so the kill lands in the middle of the 900 kB download.
  const link = await startFaultProxy({ host: server.host, port: server.port }, () => ({ bytesPerSecond: 300_000 }));
  t.after(() => link.close());
  const stateDir = await carDir(t);
  await writeCar(stateDir, 'WCANTARESVME00001');
  const image = firmware(900_000);
  await server.upload('edt-2.2.0.bin', image, { ecu: 'EDT', firmware_version: '2.2.0' });

  const first = await startVehicle(link.url, stateDir, ['--approve', 'auto']);
  const progressFile = join(stateDir, 'tmu', 'downloads', 'EDT', 'state', 'progress.txt');
  for (;;) {
    const percent = Number(await readFile(progressFile, 'utf8').catch(() => '0'));
    if (percent >= 30) break;
    await sleep(20);
  }
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  assert.equal((await tmuState(stateDir)).phase, 'downloading');

  const second = await startVehicle(link.url, stateDir, ['--approve', 'auto']);
  const resumed = await waitForLog(second, /^resuming at byte \d+$/, 15_000);
  assert.ok((resumed.offset as number) >= 270_000 && (resumed.offset as number) < 900_000, `resumed at ${resumed.offset as number}`);
  const downloaded = await waitForLog(second, /^downloaded and verified$/, 15_000);
  assert.equal(downloaded.resumedFrom, resumed.offset);
  await waitForLog(second, /^campaign c-[0-9a-f]{16} reported: success$/, 30_000);
  const edt = (await vehicleStatus(stateDir)).ecus.EDT!;
  assert.deepEqual([edt.version, edt.sha256], ['2.2.0', sha256(image)]);
});
