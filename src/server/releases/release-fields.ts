import semver from 'semver';
import { BadRequestError } from '../errors.ts';
import { checkLabel } from './filename.ts';

/**
 * An ECU's name as the vehicle names its ECUs (src/vehicle/config.ts, the CGW's approval protocol): a
 * capital letter, then 1 to 15 capitals, digits or `_`. The server cannot import the vehicle's module
 * (layering), so the rule is repeated here; test/server/releases/release-fields.test.ts holds the two
 * together.
 */
export const ecuNamePattern = /^[A-Z][A-Z0-9_]{1,15}$/;

/** Release notes: shown to admins and, in the offer, to the driver. */
export const maxNotesLength = 1000;
export const maxVersionLength = 64;

/** What an upload says about its release, checked and in canonical form. */
export interface ReleaseFields {
  /** Upper case, as ECUs name themselves; null for a seed-style release (a bare file). */
  ecu: string | null;
  firmware_version: string | null;
  hardware_id: string | null;
  notes: string | null;
}

/**
 * Checks an upload's fields. Either a release for an ECU (both `ecu` and `firmware_version`, optionally
 * `hardware_id`), or a seed-style bare file (neither: what the seed's upload form made, served by
 * `/latest_version`); half of an ECU release is refused, since no vehicle could tell what it is for.
 */
export function checkReleaseFields(fields: Record<string, string | undefined>, options: { complete?: boolean } = {}): ReleaseFields {
  const ecu = checkEcu(fields.ecu);
  const version = checkVersion(fields.firmware_version);
  // As a vehicle config names it (at most 32 characters); the signed manifest carries it to the ECU.
  const hardwareId = checkLabel('hardware_id', fields.hardware_id, 32);
  const notes = checkNotes(fields.notes);
  // `complete: false`: the fields seen so far of an upload whose other fields may still come.
  if (options.complete === false) return { ecu, firmware_version: version, hardware_id: hardwareId, notes };
  if (ecu !== null && version === null) {
    throw new BadRequestError(`a release for ECU ${ecu} needs a firmware_version (SemVer, like 2.0.0)`);
  }
  if (ecu === null && version !== null) {
    throw new BadRequestError(`firmware_version ${version} needs an ecu: which ECU is this release for?`);
  }
  if (ecu === null && hardwareId !== null) throw new BadRequestError('hardware_id needs an ecu and a firmware_version');
  return { ecu, firmware_version: version, hardware_id: hardwareId, notes };
}

/** Lower case is accepted and upper-cased (ECUs name themselves in capitals). */
export function checkEcu(value: string | undefined): string | null {
  const text = checkLabel('ecu', value, 64);
  if (text === null) return null;
  const name = text.toUpperCase();
  if (!ecuNamePattern.test(name)) {
    throw new BadRequestError(`ecu ${JSON.stringify(text)} is not an ECU name: 2 to 16 characters, letters, digits and _, starting with a letter (like EDT)`);
  }
  return name;
}

/**
 * A SemVer 2.0.0 version exactly as the specification writes it: `MAJOR.MINOR.PATCH`, an optional
 * pre-release (`-rc.1`) and build metadata (`+build.5`); no `v` prefix, no leading zeros, no spaces
 * inside. The `semver` package parses; the comparison with its raw input refuses what it would quietly
 * clean up (`v1.2.3`, `=1.2.3`).
 */
export function checkVersion(value: string | undefined): string | null {
  const text = checkLabel('firmware_version', value, maxVersionLength);
  if (text === null) return null;
  const parsed = semver.parse(text);
  if (!parsed || parsed.raw !== text || /^[v=]/i.test(text)) {
    throw new BadRequestError(`firmware_version ${JSON.stringify(text)} is not a SemVer 2.0.0 version: MAJOR.MINOR.PATCH with an optional -pre-release and +build, like 2.0.0 or 2.1.0-rc.1`);
  }
  return text;
}

/** Bidi controls reorder how text is shown (Trojan Source): notes must read as they are stored. */
const bidiControls = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** Release notes: at most `maxNotesLength` characters of plain text (`checkPlainText`). */
export function checkNotes(value: string | undefined): string | null {
  return checkPlainText('notes', value, maxNotesLength);
}

/**
 * Plain text: line breaks (CR LF and CR become LF) and tabs, nothing that controls a terminal or the text's
 * direction; trimmed, and null when blank. Shown as text everywhere (escaped on pages), never interpreted,
 * so `<b>` is allowed and stays `<b>`. `maxLength` counts characters (code points).
 */
export function checkPlainText(field: string, value: string | undefined, maxLength: number): string | null {
  if (value === undefined) return null;
  const text = value.replace(/\r\n?/g, '\n').trim();
  if (text === '') return null;
  const length = [...text].length;
  if (length > maxLength) throw new BadRequestError(`${field} is ${length} characters long, at most ${maxLength} are allowed`);
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const control = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.exec(text);
  if (control) throw new BadRequestError(`${field} must be plain text: ${codePoint(control[0])} is a control character`);
  const bidi = bidiControls.exec(text);
  if (bidi) throw new BadRequestError(`${field} must be plain text: ${codePoint(bidi[0])} is a bidi control (it changes the direction text is shown in)`);
  return text;
}

function codePoint(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
