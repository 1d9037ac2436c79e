import type { Bus } from '../../can/bus/bus.ts';
import { DiagnosticSessionType, NegativeResponseCode as Nrc, RequestRejectedError, UdsServer } from '../../can/uds/index.ts';
import type { Logger } from '../../logging/logger.ts';
import type { VehicleConfig } from '../config.ts';
import { identificationDids } from '../ecu/identification.ts';
import { EcuState } from '../ecu/status-frame.ts';
import { ecuByName, isoTpFrameOptions } from '../network.ts';
import type { LocalTarget } from './local-target.ts';

/**
 * The TMU's own diagnostic server on its ids (0x720/0x728, and functional 0x7DF): a workshop tester reads
 * its identification and boot state like any ECU's. It cannot be flashed over the bus: the TMU installs
 * its own releases from its download client, so the programming session is refused (NRC 0x22), and it
 * cannot be reset from the bus at all (0x11 serviceNotSupported): it has no security access that could
 * tell a workshop from any other node, and rebooting it would cut an update short.
 */
export function startTmuDiagnostics(options: { config: VehicleConfig; bus: Bus; local: LocalTarget; logger?: Logger }): UdsServer {
  const { config, bus, local } = options;
  const tester = ecuByName(config, config.tester);
  const server = new UdsServer({
    dids: identificationDids(local.banks, { name: tester.name, hardwareId: tester.hardwareId, vin: config.vin }, () => EcuState.Running),
    resetTypes: [],
    canEnterSession: (session) => {
      if (session === DiagnosticSessionType.Programming) {
        throw new RequestRejectedError(Nrc.ConditionsNotCorrect, 'the TMU updates itself from its own downloads, not over the bus');
      }
    },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  server.listenOnBus(bus, { requestId: tester.requestId, responseId: tester.responseId, functionalId: config.functionalRequestId },
    isoTpFrameOptions(config.buses[tester.bus]!));
  return server;
}
