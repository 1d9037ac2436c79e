import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeploymentProgressReporter, isDeploymentCampaign } from '../../../src/vehicle/tmu/deployment-progress.ts';
import type { DeploymentProgress } from '../../../src/vehicle/tmu/server-api.ts';
import type { TmuServer } from '../../../src/vehicle/tmu/tmu-parts.ts';

function server(options: { fail?: boolean; delayMs?: number } = {}) {
  const sent: DeploymentProgress[] = [];
  const api = {
    latestReleases: () => Promise.reject(new Error('not used')),
    postReport: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
    postDeploymentProgress: async (vin: string, progress: DeploymentProgress) => {
      assert.equal(vin, 'WCANTAPRGRS000001');
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      if (options.fail) throw new Error('server down');
      sent.push(progress);
    },
  } as unknown as TmuServer;
  return { api, sent };
}

test('deployment campaigns are the server\'s numbers; the TMU\'s own are not reported', () => {
  assert.equal(isDeploymentCampaign('12'), true);
  assert.equal(isDeploymentCampaign('c-0123456789abcdef'), false);
  assert.equal(isDeploymentCampaign('012'), false);
  assert.equal(isDeploymentCampaign(''), false);
});

test('progress goes out in order, a new state or ECU at once, the same state at most once a second and per 10 %', async () => {
  let now = 0;
  const { api, sent } = server({ delayMs: 5 });
  const reporter = new DeploymentProgressReporter(api, 'WCANTAPRGRS000001', { now: () => now });
  reporter.report({ campaign_id: '7', state: 'downloading', percent: 0 });
  reporter.report({ campaign_id: '7', state: 'downloading', ecu: 'EDT', percent: 3 });
  reporter.report({ campaign_id: '7', state: 'downloading', ecu: 'EDT', percent: 8 });
  now = 500;
  reporter.report({ campaign_id: '7', state: 'downloading', ecu: 'EDT', percent: 35 });
  now = 1600;
  reporter.report({ campaign_id: '7', state: 'downloading', ecu: 'EDT', percent: 36 });
  reporter.report({ campaign_id: '7', state: 'offered' });
  reporter.report({ campaign_id: '7', state: 'offered' });
  reporter.report({ campaign_id: 'c-0123456789abcdef', state: 'installing', ecu: 'EDT', percent: 50 });
  reporter.report({ campaign_id: '7', state: 'installing', ecu: 'EDT', percent: 0 });
  reporter.report({ campaign_id: '7', state: 'installing', ecu: 'CGW', percent: 0 });
  await reporter.settled();
  assert.deepEqual(sent.map((p) => `${p.state}:${p.ecu ?? ''}:${p.percent ?? ''}`), [
    'downloading::0', 'downloading:EDT:3', 'downloading:EDT:36', 'offered::', 'installing:EDT:0', 'installing:CGW:0',
  ]);
});

test('a server that fails is only logged: the update never waits for it or fails by it', async () => {
  const { api } = server({ fail: true });
  const logged: string[] = [];
  const logger = { debug: (_fields: object, message: string) => logged.push(message) };
  const reporter = new DeploymentProgressReporter(api, 'WCANTAPRGRS000001', { logger: logger as never });
  reporter.report({ campaign_id: '7', state: 'offered' });
  reporter.report({ campaign_id: '7', state: 'installing', ecu: 'EDT', percent: 10 });
  await reporter.settled();
  assert.deepEqual(logged, ['could not tell the server: server down', 'could not tell the server: server down']);
  const silent = new DeploymentProgressReporter({ ...api, postDeploymentProgress: undefined } as unknown as TmuServer, 'WCANTAPRGRS000001');
  silent.report({ campaign_id: '7', state: 'offered' });
  await silent.settled();
});
