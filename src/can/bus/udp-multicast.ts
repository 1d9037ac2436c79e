import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Bus, type BusOptions } from './bus.ts';
import { BusConfigurationError, CanBusError } from './errors.ts';
import { stampFrame, type CanFrame } from './frame.ts';
import { nowSeconds } from './clock.ts';
import { packFrame, unpackFrame } from './multicast-packet.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** python-can's `UdpMulticastBus.DEFAULT_GROUP_IPv4`. */
export const DEFAULT_MULTICAST_GROUP_IPV4 = '239.74.163.2';
/** python-can's `UdpMulticastBus.DEFAULT_GROUP_IPv6` (its default channel). */
export const DEFAULT_MULTICAST_GROUP_IPV6 = 'ff15:7079:7468:6f6e:6465:6d6f:6d63:6173';
export const DEFAULT_MULTICAST_PORT = 43113;

export interface UdpMulticastBusOptions extends BusOptions {
  /**
   * Multicast group: IPv4 in 224.0.0.0/4 or IPv6 in ff00::/8. Defaults to `channel` when that is such an
   * address (python-can's convention), else 239.74.163.2. One group and port is one bus segment.
   */
  group?: string;
  /** UDP port, 43113 by default (python-can's). */
  port?: number;
  /** IPv4 TTL / IPv6 hop limit, 1 by default. */
  hopLimit?: number;
  /**
   * Interface for the membership and for sending: an IPv4 address, or `::%NAME` for IPv6. Defaults to
   * loopback (127.0.0.1, `::%lo`) so frames never leave the machine. Linux's loopback does not carry IPv6
   * multicast, so IPv6 groups need an explicit interface (e.g. a veth pair in a private network namespace).
   */
  multicastInterface?: string;
}

/** A socket failure while opening or sending on the multicast bus. */
export class MulticastSocketError extends CanBusError {
  override name = 'MulticastSocketError';
}

const isMulticastAddress = (address: string): boolean => {
  const family = isIP(address);
  if (family === 4) {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return family === 6 && /^ff[0-9a-f]{2}:/i.test(address);
};

function loopbackInterfaceName(): string {
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (addresses?.some((address) => address.internal && address.family === 'IPv6')) return name;
  }
  return 'lo';
}

const localAddresses = (): Set<string> => new Set(
  Object.values(networkInterfaces()).flatMap((addresses) => (addresses ?? []).map((address) => address.address)),
);

const withoutScope = (address: string): string => address.replace(/%.*$/, '');

function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/**
 * The `udp-multicast` driver: frames as python-can `udp_multicast` datagrams, so processes on one machine
 * (ours and python-can tools) share a bus. One socket receives (bound to the group's port, shared with the
 * other members through SO_REUSEADDR); another sends from an ephemeral port, which is how we recognise and
 * drop our own datagrams when multicast loopback brings them back. UDP has no arbitration and no
 * timing: frames arrive in the order the kernel delivers them.
 */
export class UdpMulticastBus extends Bus {
  readonly group: string;
  readonly port: number;
  /** Datagrams that were not valid python-can frames, and the last reason. */
  malformedPackets = 0;
  lastMalformedReason: string | undefined;
  readonly #receiver: Socket;
  readonly #sender: Socket;
  readonly #senderAddress: { address: string; port: number };
  readonly #localAddresses: Set<string>;

  private constructor(options: UdpMulticastBusOptions, group: string, port: number, receiver: Socket, sender: Socket) {
    super(options);
    this.group = group;
    this.port = port;
    this.#receiver = receiver;
    this.#sender = sender;
    this.#senderAddress = sender.address();
    this.#localAddresses = localAddresses();
    receiver.on('message', (packet, remote) => this.#onPacket(packet, remote));
    // Errors after opening: sends report theirs through their callback; nothing else is recoverable here.
    receiver.on('error', () => undefined);
    sender.on('error', () => undefined);
  }

  static async open(options: UdpMulticastBusOptions): Promise<UdpMulticastBus> {
    const group = options.group ?? (isMulticastAddress(options.channel) ? options.channel : DEFAULT_MULTICAST_GROUP_IPV4);
    if (!isMulticastAddress(group)) {
      throw new BusConfigurationError(`"${group}" is not a multicast group (IPv4 224.0.0.0/4 or IPv6 ff00::/8)`);
    }
    const port = options.port ?? DEFAULT_MULTICAST_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new BusConfigurationError(`UDP port must be 1..65535, got ${port}`);
    }
    const hopLimit = options.hopLimit ?? 1;
    if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 255) {
      throw new BusConfigurationError(`multicast hop limit must be 1..255, got ${hopLimit}`);
    }
    const ipv6 = isIP(group) === 6;
    const loopback = ipv6 ? `::%${loopbackInterfaceName()}` : '127.0.0.1';
    const multicastInterface = options.multicastInterface ?? loopback;
    const type = ipv6 ? 'udp6' : 'udp4';
    const receiver = createSocket({ type, reuseAddr: true });
    const sender = createSocket({ type });
    try {
      // Bound to the group (IPv4) so this socket only sees this group's datagrams; IPv6 binds the wildcard.
      await bind(receiver, port, ipv6 ? '::' : group);
      receiver.addMembership(group, multicastInterface);
      const senderAddress = options.multicastInterface === undefined ? (ipv6 ? '::1' : '127.0.0.1')
        : (ipv6 ? '::' : multicastInterface);
      await bind(sender, 0, senderAddress);
      sender.setMulticastInterface(multicastInterface);
      sender.setMulticastTTL(hopLimit);
      sender.setMulticastLoopback(true);
    } catch (error) {
      receiver.close();
      sender.close();
      throw new MulticastSocketError(
        `cannot join multicast group ${group} port ${port} on ${multicastInterface}: ${errorMessage(error)}`,
      );
    }
    return new UdpMulticastBus(options, group, port, receiver, sender);
  }

  protected override transmit(frame: CanFrame): Promise<CanFrame> {
    const packet = packFrame(frame, this.channel);
    return new Promise((resolve, reject) => {
      this.#sender.send(packet, this.port, this.group, (error) => {
        if (error) reject(new MulticastSocketError(`cannot send to ${this.group} port ${this.port}: ${error.message}`));
        else resolve(stampFrame(frame, nowSeconds(), this.channel));
      });
    });
  }

  protected override async shutdown(): Promise<void> {
    await Promise.all([this.#receiver, this.#sender].map((socket) => new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    })));
  }

  #onPacket(packet: Buffer, remote: RemoteInfo): void {
    if (this.#isOwnEcho(remote)) return;
    let frame: CanFrame;
    try {
      frame = unpackFrame(packet);
    } catch (error) {
      this.malformedPackets += 1;
      this.lastMalformedReason = errorMessage(error);
      return;
    }
    // Seen on this bus, whatever channel name the sender put in the datagram.
    this.deliver(stampFrame(frame, frame.timestamp ?? nowSeconds(), this.channel));
  }

  #isOwnEcho(remote: RemoteInfo): boolean {
    if (remote.port !== this.#senderAddress.port) return false;
    const own = withoutScope(this.#senderAddress.address);
    if (own !== '::' && own !== '0.0.0.0') return withoutScope(remote.address) === own;
    return this.#localAddresses.has(withoutScope(remote.address));
  }
}
