import type { Bus } from '../../can/bus/bus.ts';
import { IsoTpChannel } from '../../can/isotp/index.ts';
import { UdsClient, type UdsClientOptions } from '../../can/uds/index.ts';
import type { VehicleConfig } from '../config.ts';
import { BootloaderDid, decodeBootState, type BootState } from '../ecu/protocol.ts';
import { isoTpFrameOptions } from '../network.ts';
import { TmuError } from './errors.ts';

/**
 * The TMU's UDS clients, one per ECU of the car (but itself), each on its own ISO-TP channel on the TMU's
 * bus node. One per ECU, and shared by whoever talks to that ECU (the approval and the flashing both
 * talk to the CGW): only one channel may receive on an ECU's response id.
 */
export class TesterLinks {
  readonly #links = new Map<string, { channel: IsoTpChannel; client: UdsClient }>();

  constructor(config: VehicleConfig, bus: Bus, options: UdsClientOptions = {}) {
    for (const ecu of config.ecus) {
      if (ecu.name === config.tester) continue;
      const channel = new IsoTpChannel(bus, { txId: ecu.requestId, rxId: ecu.responseId, ...isoTpFrameOptions(config.buses[ecu.bus]!) });
      // P2 with room for a loaded machine and a multicast hop: it only bounds how long silence takes to notice.
      this.#links.set(ecu.name, { channel, client: new UdsClient(channel, { p2Ms: 500, ...options }) });
    }
  }

  client(ecu: string): UdsClient {
    const link = this.#links.get(ecu);
    if (!link) throw new TmuError(`the TMU has no UDS link to ${ecu}`);
    return link.client;
  }

  /** 0xF1A0 of `ecu` (it must be reachable: on the TMU's segment, or behind an open firewall). */
  async bootState(ecu: string): Promise<BootState> {
    return decodeBootState(await this.client(ecu).readDataByIdentifier(BootloaderDid.BootState));
  }

  close(): void {
    for (const { client, channel } of this.#links.values()) {
      client.close();
      channel.close();
    }
  }
}
