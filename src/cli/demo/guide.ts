import { relative } from 'node:path';
import type { DemoCredentials, DemoLayout, SampleFirmware } from './prepare.ts';

/** The text `npm start` prints once everything runs: where to look and what to try. */
export function demoGuide(parts: {
  layout: DemoLayout; serverUrl: string; hmiUrl: string | undefined; credentials: DemoCredentials;
  firmware: SampleFirmware[]; vin: string; approve: string;
}): string {
  const here = (path: string) => relative(process.cwd(), path) || '.';
  const [edt, cgw] = parts.firmware;
  const driver = parts.hmiUrl
    ? `open the driver HMI and press Approve (or Later / Decline)`
    : parts.approve === 'prompt' ? 'answer the question on this terminal' : `the "${parts.approve}" policy decides for the driver`;
  return [
    '',
    'canota demo is running: an OTA server and a simulated vehicle (TMU, CGW, EDT on two CAN FD buses)',
    '',
    `  OTA server (admin UI)  ${parts.serverUrl}/`,
    `     log in as           ${parts.credentials.admin.username} / ${parts.credentials.admin.password}   (a new random password each start)`,
    ...(parts.hmiUrl ? [`  driver HMI             ${parts.hmiUrl}`] : []),
    `  vehicle                ${parts.vin}, state in ${here(parts.layout.vehicleStateDir)}`,
    `  logs                   ${here(parts.layout.logsDir)}/server.log, vehicle.log, can.log (candump)`,
    '',
    'Try it:',
    `  1. Log in to the admin UI and upload ${edt ? here(edt.path) : 'a .bin'} with ECU "${edt?.ecu ?? 'EDT'}" and firmware version "${edt?.version ?? '2.0.0'}".`,
    `  2. Deploy it on the Deployments page (${parts.serverUrl}/deployments): pick the release, target all vehicles, start.`,
    `     Within a few seconds the TMU downloads and verifies it and the CGW asks the driver: ${driver}.`,
    '  3. The TMU flashes EDT through the CGW (UDS over ISO-TP on CAN-B) into its inactive bank, checks it and activates it.',
    `  4. See the result:  bin/canota vehicle status --state-dir ${here(parts.layout.vehicleStateDir)}`,
    `     and on the server's Vehicles page (${parts.serverUrl}/vehicles).`,
    `     The deployment's page follows the car live: offered, downloading, installing, succeeded.`,
    ...(cgw ? [`  Then try two ECUs at once: upload ${here(cgw.path)} for "${cgw.ecu}" (${cgw.version}) and deploy it with the EDT release.`] : []),
    '',
    'Stop with Ctrl-C. Start over with: rm -rf ' + here(parts.layout.root),
    '',
  ].join('\n');
}

/** Vehicle log lines worth showing on the demo's terminal: the update's milestones and every problem. */
export function vehicleMilestone(line: string): string | undefined {
  let entry: { level?: number; msg?: string; percent?: number; ecu?: string };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return undefined;
  }
  const message = entry.msg;
  if (!message) return undefined;
  if ((entry.level ?? 0) >= 40) return message;
  if (message === 'flashing') {
    return entry.percent !== undefined && entry.percent % 25 === 0 ? `${entry.ecu}: ${entry.percent} %` : undefined;
  }
  return /^campaign |: activated|: rolled back|report sent|written and checked/.test(message) ? message : undefined;
}
