import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openStorage, type Storage } from '../../../src/server/storage/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

/** A real SQLite database in a temp dir, closed when the test ends. */
export async function testStorage(t: TestContext): Promise<Storage> {
  const dir = await tempDir(t);
  const storage = await openStorage(`sqlite:${join(dir, 'test.db')}`);
  t.after(() => storage.close());
  return storage;
}
