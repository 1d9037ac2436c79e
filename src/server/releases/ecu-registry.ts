import type { AuditLog } from '../audit/audit-log.ts';
import type { Storage } from '../storage/index.ts';
import type { EcuEntry } from '../storage/ecu-registry.ts';
import { BadRequestError, ConflictError, HttpError, NotFoundError } from '../errors.ts';
import { checkLabel } from './filename.ts';
import { checkEcu } from './release-fields.ts';

/** 413 for an image larger than its ECU takes (the registry's limit, below the server's upload limit). */
export class ImageTooLargeError extends HttpError {
  override name = 'ImageTooLargeError';
  constructor(ecu: string, limit: number, size: number) {
    super(413, `${ecu} takes images of at most ${limit} bytes (the ECU registry says so): this one has ${size}`);
  }
}

/**
 * Refuses a release the registry does not allow (docs/server.md, "The ECU registry"): an ECU it does not
 * know, a hardware id that ECU does not come in, and (once `size` is known) an image larger than the ECU
 * takes. A release without an ECU (the seed's bare `.bin`) is not the registry's business.
 */
export async function checkAgainstRegistry(storage: Storage, release: { ecu: string | null; hardware_id: string | null }, size?: number): Promise<void> {
  if (release.ecu === null) return;
  const entry = await storage.ecuRegistry.find(release.ecu);
  if (!entry) {
    const known = (await storage.ecuRegistry.list()).map((e) => e.name);
    throw new BadRequestError(`unknown ECU ${release.ecu}: the ECU registry knows ${known.join(', ') || 'none'} `
      + `(vehicles add theirs when they report; an admin adds one on the ECUs page or with PUT /api/v1/ecus/${release.ecu})`);
  }
  if (release.hardware_id !== null && entry.hardwareIds.length > 0 && !entry.hardwareIds.includes(release.hardware_id)) {
    throw new BadRequestError(`${entry.name} comes in hardware ${entry.hardwareIds.join(', ')}: "${release.hardware_id}" is none of them`);
  }
  if (size !== undefined && entry.maxImageBytes !== null && size > entry.maxImageBytes) {
    throw new ImageTooLargeError(entry.name, entry.maxImageBytes, size);
  }
}

export interface EcuChange {
  hardware_ids?: string[];
  max_image_bytes?: number | null;
}

/** An admin adds an ECU or changes one; checked, audited (`ecu.update`). */
export async function putEcu(storage: Storage, audit: AuditLog, name: string, change: EcuChange, by: string, ip: string | null, now: number): Promise<EcuEntry> {
  const ecu = checkEcu(name);
  if (ecu === null) throw new BadRequestError('an ECU needs a name');
  const hardwareIds = [...new Set((change.hardware_ids ?? []).map((id, index) => {
    const checked = checkLabel(`hardware_ids[${index}]`, id, 32);
    if (checked === null) throw new BadRequestError(`hardware_ids[${index}] is empty`);
    return checked;
  }))].sort();
  const max = change.max_image_bytes ?? null;
  if (max !== null && (!Number.isSafeInteger(max) || max < 1)) throw new BadRequestError('max_image_bytes must be a whole number of bytes from 1, or null');
  const entry = await storage.ecuRegistry.put({ name: ecu, hardwareIds, maxImageBytes: max, by, now });
  await audit.record({ event: 'ecu.update', outcome: 'ok', actor: by, ip, subject: ecu, details: { hardware_ids: hardwareIds, max_image_bytes: max } });
  return entry;
}

/** An admin removes an ECU no release names (a typo); 409 while releases name it. Audited. */
export async function removeEcu(storage: Storage, audit: AuditLog, name: string, by: string, ip: string | null): Promise<void> {
  const ecu = checkEcu(name)!;
  const named = (await storage.database.db.selectFrom('releases').select('id').where('ecu', '=', ecu).limit(1).execute()).length > 0
    || (await storage.database.db.selectFrom('releases').select('id').where('ecu', '=', ecu.toLowerCase()).limit(1).execute()).length > 0;
  if (named) throw new ConflictError(`releases name ${ecu}: it stays in the registry (withdraw them, or keep it)`);
  if (!await storage.ecuRegistry.remove(ecu)) throw new NotFoundError(`no ECU ${ecu} in the registry`);
  await audit.record({ event: 'ecu.remove', outcome: 'ok', actor: by, ip, subject: ecu });
}

/** What vehicles report joins the registry: their ECUs and hardware ids. Audited when an ECU is new. */
export async function learnFromReport(storage: Storage, audit: AuditLog, vin: string, ecus: Record<string, { hardware_id?: string | null }>, now: number): Promise<void> {
  const seen = Object.entries(ecus).map(([name, ecu]) => ({ name: name.toUpperCase(), hardwareId: ecu.hardware_id ?? null }));
  const added = await storage.ecuRegistry.learn(seen, vin, now);
  if (added.length > 0) await audit.record({ event: 'ecu.update', outcome: 'ok', actor: vin, subject: added.join(', '), details: { learned_from_report: true } });
}
