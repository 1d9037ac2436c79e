import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOtaServer } from '../../support/ota-server.ts';
import { carDir, firmware, logLines, pendingReports, startVehicle, tmuState, vehicleStatus, waitForLog, writeCar } from './support.ts';

test('the driver declines or postpones: nothing is installed, the campaign is not offered again until a newer release or the delay', async (t) => {
  const server = await startOtaServer(t);
  await server.upload('edt-2.0.0.bin', firmware(60_000), { ecu: 'EDT', firmware_version: '2.0.0' });

  await t.test('declined (--approve decline): no flash, not asked again for that campaign, asked again for a newer release', async (t) => {
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTADEC00000001');
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'decline']);
    assert.match(vehicle.output.join('\n'), /WARNING: driver approval policy "decline"/);
    const declined = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16}: declined by the driver; not offered again before .* unless newer releases come$/);
    const campaign = declined.campaign as string;
    await waitForLog(vehicle, new RegExp(`^campaign ${campaign} reported: declined$`));
    const state = await tmuState(stateDir);
    assert.equal(state.phase, 'idle');
    assert.equal(state.deferred[campaign]?.reason, 'declined');
    // The default re-offer period is a day.
    assert.ok(Date.parse(state.deferred[campaign]!.until) - Date.now() > 86_000_000);

    // Several polls later: the same campaign is not put to the driver again, nothing was flashed.
    await sleep(2500);
    assert.equal(logLines(vehicle, /^cgw offer shown to the driver$/).length, 1);
    const edt = (await vehicleStatus(stateDir)).ecus.EDT!;
    assert.deepEqual([edt.version, edt.active_bank, edt.banks!.B.state], ['1.0.0', 'A', 'empty']);
    const [report] = await pendingReports(stateDir);
    assert.equal(report?.outcome, 'declined');
    assert.deepEqual(report?.updates.map((update) => [update.ecu, update.to, update.result]), [['EDT', '2.0.0', 'not-attempted']]);

    // A newer release is a new campaign: the driver is asked again.
    await server.upload('edt-2.0.1.bin', firmware(60_000), { ecu: 'EDT', firmware_version: '2.0.1' });
    const again = await waitForLog(vehicle, /^new releases: campaign c-[0-9a-f]{16} \(EDT 1\.0\.0→2\.0\.1\)$/, 10_000);
    assert.notEqual(again.campaign, campaign);
    await vehicle.waitFor(new RegExp(`"campaign":"${again.campaign as string}".*"msg":"cgw offer shown to the driver"`));
  });

  await t.test('--reoffer-after: a declined campaign is offered again once that time has passed', async (t) => {
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTADEC00000002');
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'decline', '--reoffer-after', '2']);
    await waitForLog(vehicle, /^campaign c-[0-9a-f]{16}: declined by the driver/);
    const offered = () => logLines(vehicle, /^cgw offer shown to the driver$/);
    await sleep(1000);
    assert.equal(offered().length, 1, 'not within the two seconds');
    const deadline = Date.now() + 8000;
    while (offered().length < 2 && Date.now() < deadline) await sleep(100);
    assert.equal(offered().length, 2, 'offered again after the two seconds');
    assert.equal(offered()[1]!.campaign, offered()[0]!.campaign);
  });

  await t.test('postponed at the terminal prompt: nothing installed, offered again only after the delay the driver chose', async (t) => {
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTAP0STP0NE001');
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'prompt']);
    // The question itself ends without a newline; the offer's lines come with it.
    await vehicle.waitFor(/^ {2}EDT: 1\.0\.0 -> 2\.0\.1 \(/, 15_000);
    vehicle.child.stdin.write('later 1\n');
    const postponed = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16}: postponed by the driver for \d+ s$/);
    assert.ok((postponed.seconds as number) > 55 && (postponed.seconds as number) <= 60);
    await waitForLog(vehicle, /^campaign c-[0-9a-f]{16} reported: postponed$/);
    const state = await tmuState(stateDir);
    const deferral = state.deferred[postponed.campaign as string]!;
    assert.equal(deferral.reason, 'postponed');
    assert.ok(Math.abs(Date.parse(deferral.until) - (Date.now() + 60_000)) < 5000);
    await sleep(2000);
    assert.equal(logLines(vehicle, /^cgw offer shown to the driver$/).length, 1, 'not asked again before the minute is up');
    assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.version, '1.0.0');
    assert.equal((await pendingReports(stateDir)).at(-1)?.outcome, 'postponed');
  });
});
