import type { Command } from 'commander';
import { readVehicleStatus, type VehicleStatus } from '../../vehicle/status.ts';
import type { GatewayStatistics } from '../../vehicle/cgw/gateway.ts';
import type { SecOcStatistics } from '../../vehicle/ecu/status-receiver.ts';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { DEFAULT_VEHICLE_STATE_DIR } from './ecu.ts';
import { addVehicleRunOptions, runVehicle, type VehicleRunOptions } from './vehicle-run.ts';
import { addVehicleRegisterCommand } from './vehicle-register.ts';
import { addVehicleTagCommand } from './vehicle-tag.ts';

interface StatusOptions {
  stateDir: string;
  config?: string;
  json?: boolean;
}

export function registerVehicleCommand(program: Command): void {
  // Without subcommand: the whole car (TMU, CGW, EDT …) in one process. Its options are read only before
  // a subcommand's name (the program enables positional options), so `status --state-dir` is status's own.
  const vehicle = addVehicleRunOptions(program.command('vehicle')
    .description('run the whole car (TMU with its download client, CGW with the driver HMI, EDT …): canota vehicle --server URL'))
    .action(async (options: VehicleRunOptions) => runVehicle(options));
  vehicle.command('status')
    .description('each ECU\'s active bank, version, image SHA-256 and state, read from the state dir (the car need not run)')
    .option('--state-dir <dir>', 'vehicle state dir', DEFAULT_VEHICLE_STATE_DIR)
    .option('--config <file>', 'vehicle config JSON (default: <state-dir>/vehicle.json)')
    .option('--json', 'print {"vin", "ecus": {NAME: {version, sha256, active_bank, state, confirmed, floor, …}}}')
    .action(async (options: StatusOptions) => {
      const status = await readVehicleStatus({
        stateDir: options.stateDir,
        ...(options.config !== undefined ? { configPath: options.config } : {}),
      });
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    });
  addVehicleRegisterCommand(vehicle);
  addVehicleTagCommand(vehicle);
  readOptionsFromEnvironment(vehicle);
}

/** The human table: one line per ECU. */
export function formatStatus(status: VehicleStatus): string {
  const rows = [['ECU', 'VERSION', 'BANK', 'STATE', 'CONFIRMED', 'FLOOR', 'SHA-256', 'LAST BOOT']];
  for (const [name, ecu] of Object.entries(status.ecus)) {
    const boot = ecu.last_boot;
    const lastBoot = boot ? `${boot.at} ${boot.outcome}${boot.reason ? `: ${boot.reason}` : ''}` : ecu.error ?? '-';
    const confirmed = ecu.confirmed === null ? '-' : ecu.confirmed ? 'yes' : 'no (on trial)';
    rows.push([name, ecu.version ?? '-', ecu.active_bank ?? '-', ecu.state, confirmed, ecu.floor ?? '-',
      ecu.sha256 ? `${ecu.sha256.slice(0, 16)}…` : '-', lastBoot]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
  const header = `VIN ${status.vin ?? '(unknown: no vehicle.json)'}`;
  if (Object.keys(status.ecus).length === 0) return `${header}\nno ECU has run in this state dir yet\n`;
  const secoc = Object.entries(status.ecus).flatMap(([name, ecu]) => (ecu.secoc ? [formatSecOc(name, ecu.secoc)] : []));
  return `${header}\n${lines.join('\n')}\n${status.gateway ? `${formatFirewall(status.gateway)}\n` : ''}${secoc.map((line) => `${line}\n`).join('')}`;
}

/** One line per receiving ECU: the status frames it verified and what it dropped, per sender. */
function formatSecOc(ecu: string, statistics: SecOcStatistics): string {
  const senders = Object.entries(statistics.senders).map(([sender, counters]) => {
    const rejected = [
      counters.macFailures ? `${counters.macFailures} MAC failures` : '',
      counters.replays ? `${counters.replays} replays` : '',
      counters.malformed ? `${counters.malformed} malformed` : '',
    ].filter(Boolean);
    return `${sender} ${counters.verified} verified${rejected.length > 0 ? `, ${rejected.join(', ')} dropped` : ''}`;
  });
  return `${ecu} status frames received: ${senders.join('; ') || 'none'} as of ${statistics.updatedAt}`;
}

/** One line for the gateway: is the firewall open, and what it forwarded and dropped (by id). */
function formatFirewall(gateway: GatewayStatistics): string {
  const { firewall, totals, segments } = gateway;
  const dropped = Object.entries(segments)
    .flatMap(([segment, counters]) => Object.entries(counters.dropped).map(([id, count]) => `${segment} ${id}×${count}`))
    .join(', ');
  const state = firewall.open ? `open for ${firewall.ecus.join(', ')}` : 'closed';
  const line = `${gateway.gateway} firewall ${state}; forwarded ${totals.forwarded}, dropped ${totals.dropped}${dropped ? ` (${dropped})` : ''} as of ${gateway.updatedAt}`;
  const approval = gateway.approvalChannel;
  if (!approval) return line;
  const refused = approval.macFailures + approval.replays + approval.malformed;
  return `${line}\n${gateway.gateway} approval requests: ${approval.verified} verified, ${refused} refused`
    + ` (${approval.macFailures} bad MAC, ${approval.replays} replayed, ${approval.malformed} malformed)`;
}
