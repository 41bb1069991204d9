/**
 * Coded storage errors (STYLE.md §7). Callers branch on `code`; `message` is one line an
 * operator can act on (sipctl prints it as is). SIP-facing modules map them to 500.
 */
export const STORAGE_ERRORS = {
  STORAGE_ERR_UNREACHABLE: 'the database cannot be reached',
  STORAGE_ERR_ACCESS_DENIED: 'the database refused the credentials',
  STORAGE_ERR_NO_DATABASE: 'the database does not exist',
  STORAGE_ERR_SCHEMA: 'the database schema is missing or has another version',
  STORAGE_ERR_DUPLICATE: 'the row already exists',
  STORAGE_ERR_INVALID: 'invalid value',
  STORAGE_ERR_BAD_URL: 'invalid database URL',
  STORAGE_ERR_PROVISIONING: 'invalid provisioning file',
  STORAGE_ERR_QUERY: 'a query failed',
} as const;

export type StorageErrorCode = keyof typeof STORAGE_ERRORS;

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
