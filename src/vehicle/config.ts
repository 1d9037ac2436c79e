import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { MAX_STANDARD_ID, MAX_EXTENDED_ID } from '../can/bus/frame.ts';
import { errorMessage } from '../errors/error-message.ts';

/** CAN ids in JSON as numbers or as "0x7E0" strings (how engineers write them). */
const canId = z.union([z.number(), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/, 'a CAN id like "0x730"')])
  .transform((value) => (typeof value === 'number' ? value : Number.parseInt(value, 16)))
  .pipe(z.number().int().min(0).max(MAX_EXTENDED_ID));

const ecuName = z.string().regex(/^[A-Z][A-Z0-9_]{1,15}$/, 'an ECU name like "EDT" (capitals, digits, _)');

export const busConfigSchema = z.object({
  driver: z.enum(['virtual', 'udp-multicast']).default('virtual'),
  /** CAN FD (default) or classic CAN. */
  fd: z.boolean().default(true),
  bitrate: z.number().int().min(10_000).max(1_000_000).default(500_000),
  dataBitrate: z.number().int().min(10_000).max(12_000_000).default(2_000_000),
  /** Virtual driver only: deliver frames no faster than the real wire would. */
  timing: z.boolean().default(false),
  /** udp-multicast only: the segment's group and port (each bus segment needs its own pair). */
  group: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
}).strict();

export const flashTimingSchema = z.object({
  eraseBytesPerSecond: z.number().nonnegative().default(0),
  programBytesPerSecond: z.number().nonnegative().default(0),
  /** Bytes per bank (the largest image; an erase takes bankSize / eraseBytesPerSecond). Default 64 MiB. */
  bankSize: z.number().int().positive().max(2 ** 32).optional(),
}).strict();

/** The compression methods a bootloader may implement (docs/ecu.md): `xz` (0x20) and `deflate` (0x10). */
export const COMPRESSION_METHODS = ['xz', 'deflate'] as const;
export type CompressionMethod = (typeof COMPRESSION_METHODS)[number];
const compressionMethod = z.enum(COMPRESSION_METHODS);

/**
 * How images may travel to the ECU's bootloader (docs/ecu.md): compressed with the methods in `compression`
 * (the TMU tries them in the order given: `["xz", "deflate"]`; a single name as older configs have it), each
 * decompressed by the bootloader within a window of `window` bytes (deflate's window, xz's LZMA2 dictionary),
 * which also bounds its working memory; the TMU compresses with this window. `compression: 'none'` is a
 * bootloader without a decompressor (it refuses compressed downloads with NRC 0x31; the TMU falls back to
 * the next method, then plain).
 */
export const transferConfigSchema = z.object({
  compression: z.union([z.enum([...COMPRESSION_METHODS, 'none']), z.array(compressionMethod).min(1, 'at least one method, or "none"')], {
    error: '"xz", "deflate", "none", or a list of methods such as ["xz", "deflate"]',
  }).refine((value) => typeof value === 'string' || new Set(value).size === value.length, 'each method once').default((): CompressionMethod[] => ['xz', 'deflate']),
  window: z.number().int().min(512).max(32 * 1024)
    .refine((window) => Number.isInteger(Math.log2(window)), 'a power of two from 512 to 32768')
    .default(32 * 1024),
  /**
   * `vcdiff`: delta downloads (dataFormatIdentifier 0x30) are applied against the running image, in 16 KiB
   * target windows (the server makes them with xdelta3 -W 16384); `none`: refused with NRC 0x31, the TMU
   * sends the full image.
   */
  delta: z.enum(['vcdiff', 'none']).default('vcdiff'),
}).strict().refine((transfer) => transfer.window >= 4096 || !compressionMethods(transfer).includes('xz'),
  { path: ['window'], message: 'xz needs a window of at least 4096 bytes (LZMA2\'s smallest dictionary)' });

/** The methods of `transfer.compression` as a list, in the order the TMU tries them (empty for 'none'). */
export function compressionMethods(transfer: { compression: CompressionMethod | 'none' | readonly CompressionMethod[] }): CompressionMethod[] {
  if (transfer.compression === 'none') return [];
  return typeof transfer.compression === 'string' ? [transfer.compression] : [...transfer.compression];
}

export const ecuConfigSchema = z.object({
  name: ecuName,
  bus: z.string().min(1),
  requestId: canId,
  responseId: canId,
  /** Periodic status frame (see can/canota.dbc). */
  statusId: canId,
  hardwareId: z.string().min(1).max(32),
  /**
   * No longer used: every ECU keeps its own keys in `<state-dir>/ecus/<NAME>/keys.json`
   * (docs/in-vehicle-security.md). Accepted so that older vehicle.json files still load; ignored.
   */
  securitySecret: z.string().regex(/^([0-9a-fA-F]{2}){16,64}$/, 'hex, 16 to 64 bytes').optional(),
  /** Version of the image the ECU ships with (bank A on first start). */
  factoryVersion: z.string().min(1).default('1.0.0'),
  flash: flashTimingSchema.default({ eraseBytesPerSecond: 0, programBytesPerSecond: 0 }),
  // A new object (and list) for each ECU: a default shared between ECUs would change with any of them.
  transfer: transferConfigSchema.default(() => ({ compression: ['xz', 'deflate'] as CompressionMethod[], window: 32 * 1024, delta: 'vcdiff' as const })),
}).strict();

export const gatewayConfigSchema = z.object({
  /** The ECU that acts as gateway (owns the approval routine and the firewall). */
  ecu: ecuName.default('CGW'),
  /** Non-diagnostic ids the gateway forwards at all times, per direction. */
  routes: z.array(z.object({ from: z.string(), to: z.string(), ids: z.array(canId) }).strict()).default([]),
}).strict();

export const vehicleConfigSchema = z.object({
  vin: z.string().regex(/^[A-HJ-NPR-Z0-9]{17}$/, 'a 17-character VIN (no I, O or Q)'),
  buses: z.record(z.string().regex(/^[a-z][a-z0-9]{0,15}$/), busConfigSchema),
  ecus: z.array(ecuConfigSchema).min(1),
  gateway: gatewayConfigSchema,
  /** The ECU that runs the download client and acts as UDS tester. */
  tester: ecuName.default('TMU'),
  functionalRequestId: canId.default(0x7df),
  /**
   * The ECU whose status frame says whether the vehicle moves (its VehicleMoving bit); every ECU refuses
   * what interrupts driving (a reset, the programming session) unless that frame, authenticated and
   * fresh, says stopped. Absent: no ECU knows of motion, and the vehicle always counts as stopped.
   */
  motionSource: ecuName.optional(),
  /** Ed25519 public keys ("ed25519:<base64>" or PEM) whose release signatures ECUs accept. Empty: no signature check. */
  trustedKeys: z.array(z.string()).default([]),
}).strict().superRefine((config, ctx) => {
  const names = new Set<string>();
  const ids = new Map<number, string>();
  for (const [index, ecu] of config.ecus.entries()) {
    if (names.has(ecu.name)) ctx.addIssue({ code: 'custom', path: ['ecus', index, 'name'], message: `duplicate ECU ${ecu.name}` });
    names.add(ecu.name);
    if (!config.buses[ecu.bus]) {
      ctx.addIssue({ code: 'custom', path: ['ecus', index, 'bus'], message: `unknown bus "${ecu.bus}"` });
    }
    for (const key of ['requestId', 'responseId', 'statusId'] as const) {
      const owner = ids.get(ecu[key]);
      if (owner) ctx.addIssue({ code: 'custom', path: ['ecus', index, key], message: `id 0x${ecu[key].toString(16)} already used by ${owner}` });
      ids.set(ecu[key], `${ecu.name}.${key}`);
      if (ecu[key] > MAX_STANDARD_ID) {
        ctx.addIssue({ code: 'custom', path: ['ecus', index, key], message: 'canota uses 11-bit normal addressing (max 0x7FF)' });
      }
    }
  }
  if (!names.has(config.gateway.ecu)) ctx.addIssue({ code: 'custom', path: ['gateway', 'ecu'], message: `no ECU named ${config.gateway.ecu}` });
  if (!names.has(config.tester)) ctx.addIssue({ code: 'custom', path: ['tester'], message: `no ECU named ${config.tester}` });
  if (config.motionSource !== undefined && !names.has(config.motionSource)) {
    ctx.addIssue({ code: 'custom', path: ['motionSource'], message: `no ECU named ${config.motionSource}` });
  }
  for (const [index, route] of config.gateway.routes.entries()) {
    for (const bus of [route.from, route.to]) {
      if (!config.buses[bus]) ctx.addIssue({ code: 'custom', path: ['gateway', 'routes', index], message: `unknown bus "${bus}"` });
    }
  }
});

export type BusConfig = z.infer<typeof busConfigSchema>;
export type EcuConfig = z.infer<typeof ecuConfigSchema>;
export type VehicleConfig = z.infer<typeof vehicleConfigSchema>;

export class VehicleConfigError extends Error {
  override name = 'VehicleConfigError';
}

export function parseVehicleConfig(value: unknown, source = 'vehicle config'): VehicleConfig {
  const result = vehicleConfigSchema.safeParse(value);
  if (!result.success) throw new VehicleConfigError(`${source} is invalid:\n${z.prettifyError(result.error)}`);
  return result.data;
}

export async function loadVehicleConfig(path: string): Promise<VehicleConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new VehicleConfigError(`cannot read vehicle config ${path}: ${errorMessage(error)}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new VehicleConfigError(`vehicle config ${path} is not JSON: ${errorMessage(error)}`);
  }
  return parseVehicleConfig(value, path);
}

/**
 * The standard car (docs/architecture.md, "In-vehicle network"): TMU and CGW on CAN-T, CGW and EDT on CAN-B,
 * CAN FD 500k/2M, EDT (the drive train) as the motion source. It holds no secrets: each ECU's keys are made
 * for it in its own state dir when the car first starts (src/vehicle/keys/).
 */
export function standardVehicleConfig(vin: string, overrides: { driver?: BusConfig['driver']; timing?: boolean; fd?: boolean } = {}): VehicleConfig {
  const bus = { driver: overrides.driver ?? 'virtual', fd: overrides.fd ?? true, timing: overrides.timing ?? false };
  // On udp-multicast each segment is its own group:port; CAN-T takes python-can's default port.
  return parseVehicleConfig({
    vin,
    buses: { cant: { ...bus, port: 43113 }, canb: { ...bus, port: 43114 } },
    ecus: [
      { name: 'TMU', bus: 'cant', requestId: 0x720, responseId: 0x728, statusId: 0x520, hardwareId: 'TMU-HW-A1' },
      { name: 'CGW', bus: 'cant', requestId: 0x710, responseId: 0x718, statusId: 0x510, hardwareId: 'CGW-HW-A1' },
      { name: 'EDT', bus: 'canb', requestId: 0x730, responseId: 0x738, statusId: 0x530, hardwareId: 'EDT-HW-A1' },
    ],
    gateway: { ecu: 'CGW', routes: [{ from: 'canb', to: 'cant', ids: [0x530] }] },
    motionSource: 'EDT',
  });
}
