/** JSON schemas shared by several routes; they drive validation, serialisation and the OpenAPI document. */
export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' } },
  required: ['error'],
} as const;

const nullableString = { type: ['string', 'null'] } as const;

export const latestVersionSchema = {
  type: 'object',
  description: 'The newest release. The seed\'s fields `version` (the file name to download), `mtime` and `sha256` come first; all are null before the first upload.',
  properties: {
    version: nullableString,
    mtime: { type: ['number', 'null'], description: 'Upload time, Unix seconds' },
    sha256: nullableString,
    size: { type: ['integer', 'null'] },
    ecu: nullableString,
    firmware_version: nullableString,
    release_id: { type: ['integer', 'null'] },
    uploaded_at: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['version', 'mtime', 'sha256'],
} as const;

export const releaseSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    filename: { type: 'string' },
    sha256: { type: 'string' },
    size: { type: 'integer' },
    ecu: nullableString,
    firmware_version: nullableString,
    notes: nullableString,
    hardware_id: nullableString,
    uploaded_by: { type: 'string' },
    uploaded_at: { type: 'string', format: 'date-time' },
    withdrawn_at: { type: ['string', 'null'], format: 'date-time', description: 'Set once the release is withdrawn: never offered again' },
    withdrawn_by: nullableString,
    withdrawal_reason: nullableString,
    latest: { type: 'boolean', description: 'The latest release of its ECU by version (what vehicles are offered)' },
  },
} as const;

/** For the OpenAPI document: vehicles send their token (`canota vehicle register`) on every request. */
export const bearerHeader = {
  type: 'string',
  description: '`Bearer <vehicle token>`: optional unless the server runs with --require-vehicle-token; a wrong token is always 401',
} as const;

export const filenameParams = {
  type: 'object',
  properties: { filename: { type: 'string', minLength: 1, maxLength: 255 } },
  required: ['filename'],
} as const;
