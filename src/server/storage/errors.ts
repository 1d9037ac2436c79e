/** Storage failures the rest of the server can tell apart. */
export class StorageError extends Error {
  override name = 'StorageError';
}

/** The `--database-url` cannot be used (unknown scheme, malformed). */
export class DatabaseUrlError extends StorageError {
  override name = 'DatabaseUrlError';
}

/** A row that must be unique already exists (e.g. a username). */
export class AlreadyExistsError extends StorageError {
  override name = 'AlreadyExistsError';
}
