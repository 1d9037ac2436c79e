/** Storage failures the rest of the server can tell apart. */
export class StorageError extends Error {
  override name = 'StorageError';
}

/** The `--database-url` cannot be used (unknown scheme, malformed). */
export class DatabaseUrlError extends StorageError {
  override name = 'DatabaseUrlError';
}

/** A blob name that is not a SHA-256: it could name a path outside the store. */
export class InvalidBlobHashError extends StorageError {
  override name = 'InvalidBlobHashError';
}

/** A row that must be unique already exists (e.g. a username). */
export class AlreadyExistsError extends StorageError {
  override name = 'AlreadyExistsError';
}
