import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { UsageError } from '../exit-codes.ts';
import { generateSigningKey, publicKeyToText, type SigningKey } from '../../crypto/ed25519.ts';
import { loadReleaseSigningKey, SigningKeyExistsError, writeSigningKey } from '../../server/releases/signing-key.ts';

/** The lines `keys show` and `keys generate` print: the public key alone on the last line, for scripts. */
function printKey(what: string, path: string, key: SigningKey, json: boolean | undefined): void {
  const publicKey = publicKeyToText(key.publicKey);
  if (json) {
    console.log(JSON.stringify({ path, key_id: key.keyId, public_key: publicKey }));
    return;
  }
  console.log(`${what} ${path}`);
  console.log(`key id ${key.keyId}`);
  console.log('public key (list it in a vehicle config\'s trustedKeys):');
  console.log(publicKey);
}

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('the server\'s Ed25519 release signing key (vehicles trust its public key)');

  keys.command('show')
    .description('print the public key of the server\'s release signing key as ed25519:<base64> (generated like the server does if it is missing)')
    .option('--data-dir <dir>', 'the server\'s data directory', './data')
    .option('--signing-key <file>', 'the key file the server uses (default: <data-dir>/keys/release-signing.pem)')
    .option('--json', 'print {path, key_id, public_key}')
    .action(async (options: { dataDir: string; signingKey?: string; json?: boolean }) => {
      const loaded = await loadReleaseSigningKey(resolve(options.dataDir), options.signingKey);
      if (loaded.created) console.error(`canota: generated a new release signing key at ${loaded.path}`);
      if (loaded.exposed) console.error(`canota: warning: ${loaded.path} is readable by others: chmod 600 it`);
      printKey('release signing key', loaded.path, loaded.key, options.json);
    });

  keys.command('generate')
    .description('write a new Ed25519 release signing key (PKCS#8 PEM, mode 0600) for canota server --signing-key')
    .requiredOption('--out <file>', 'where to write the private key')
    .option('--force', 'replace the file if it exists (vehicles that trusted the old key will refuse new releases)')
    .option('--json', 'print {path, key_id, public_key}')
    .action(async (options: { out: string; force?: boolean; json?: boolean }) => {
      const path = resolve(options.out);
      const key = generateSigningKey();
      try {
        await writeSigningKey(path, key, { overwrite: Boolean(options.force) });
      } catch (error) {
        if (error instanceof SigningKeyExistsError) throw new UsageError(error.message);
        throw error;
      }
      printKey('wrote a new release signing key to', path, key, options.json);
    });

  readOptionsFromEnvironment(keys);
}
