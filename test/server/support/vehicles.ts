import { runCanota } from '../../support/canota-process.ts';

/** `canota vehicle register VIN --json` on a data dir (the server may be running on it): the token. */
export async function registerVehicle(dataDir: string, vin: string, extra: string[] = []): Promise<string> {
  const result = await runCanota(['vehicle', 'register', vin, '--data-dir', dataDir, '--json', ...extra]);
  if (result.code !== 0) throw new Error(`canota vehicle register ${vin} failed (${result.code}): ${result.stderr}`);
  return (JSON.parse(result.stdout) as { token: string }).token;
}

/** A report body as the TMU sends it (docs/vehicle-protocol.md). */
export function vehicleReport(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    campaign_id: 'c-0123456789abcdef',
    outcome: 'success',
    ecus: {
      TMU: { version: '1.0.0', sha256: 'a'.repeat(64), active_bank: 'A', state: 'Running' },
      CGW: { version: '1.0.0', sha256: 'b'.repeat(64), active_bank: 'A', state: 'Running' },
      EDT: { version: '2.0.0', sha256: 'c'.repeat(64), active_bank: 'B', state: 'Running' },
    },
    updates: [{ ecu: 'EDT', from: '1.0.0', to: '2.0.0', release_id: '1', result: 'installed' }],
    message: 'Installed EDT 2.0.0.',
    at: new Date().toISOString(),
    ...fields,
  };
}
