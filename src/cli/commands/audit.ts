import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { Option, type Command } from 'commander';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { UsageError } from '../exit-codes.ts';
import { auditEvents, type ChainPoint, type ChainVerification } from '../../server/audit/audit-log.ts';
import { auditEntryJson } from '../../server/audit/audit-entry-json.ts';
import { AuditKeyError } from '../../server/audit/chain-key.ts';
import { checkpointKeyPath, checkpointPublicKey, CheckpointError, createCheckpoint, readCheckpoint } from '../../server/audit/checkpoint.ts';
import { loadOrCreateSigningKey, readSigningKey, SigningKeyError } from '../../server/releases/signing-key.ts';
import { publicKeyToText } from '../../crypto/ed25519.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { addDataOptions, collect, parseInteger, withServerData } from './server.ts';

interface DataOptions {
  dataDir: string;
  databaseUrl?: string;
}

/** The audit chain does not hold: names the first entry that breaks it. */
export class AuditTamperedError extends Error {
  override name = 'AuditTamperedError';
}

export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('inspect and verify the server\'s hash-chained audit log');

  addDataOptions(audit.command('verify')
    .description('check the keyed chain and that every --checkpoint still holds; exit 1 naming what is wrong')
    .option('--checkpoint <file>', 'a signed checkpoint (canota audit checkpoint) the log must still contain; repeatable', collect)
    .option('--checkpoint-key <key>', 'the checkpoint public key to trust (ed25519:<base64>; default: the data dir\'s)'))
    .action(async (options: DataOptions & { checkpoint?: string[]; checkpointKey?: string }) => {
      const files = options.checkpoint ?? [];
      const claims = files.length > 0 ? await readCheckpoints(files, await trustedCheckpointKey(options)) : [];
      const result = await verifyWithKey(options, claims);
      const broken = result.claims.flatMap((problem, i) => (problem ? [`checkpoint ${files[i]}: ${problem}`] : []));
      if (result.problem) {
        broken.unshift(`first bad entry #${result.problem.id}: ${result.problem.reason} (${result.entries} entries before it are intact)`);
      }
      if (broken.length > 0) throw new AuditTamperedError(`audit log tampered: ${broken.join('; ')}`);
      const legacy = result.legacyEntries > 0 ? ` (the first ${result.legacyEntries} unkeyed, from before the audit key)` : '';
      const checked = files.length > 0 ? `; ${files.length} checkpoint${files.length > 1 ? 's' : ''} hold` : '';
      console.log(`audit log intact: ${result.entries} entries${legacy}${checked}`);
    });

  addDataOptions(audit.command('checkpoint')
    .description('write a signed checkpoint of the log (newest entry, its seal, count, time) to keep elsewhere')
    .option('-o, --output <file>', 'write it to this file (default: stdout)')
    .option('--show-key', 'only print the checkpoint public key (ed25519:<base64>), for verifiers without the data dir'))
    .action(async (options: DataOptions & { output?: string; showKey?: boolean }) => {
      const { key } = await loadOrCreateSigningKey(checkpointKeyPath(resolve(options.dataDir)));
      if (options.showKey) {
        console.log(publicKeyToText(key.publicKey));
        return;
      }
      // Only an intact log is worth vouching for.
      const result = await verifyWithKey(options, []);
      if (result.problem) throw new AuditTamperedError(`audit log tampered, no checkpoint written: first bad entry #${result.problem.id}: ${result.problem.reason}`);
      if (!result.head) throw new AuditTamperedError('the audit log is empty: nothing to checkpoint');
      const text = `${JSON.stringify(createCheckpoint(result.head, key, Date.now()), null, 2)}\n`;
      if (!options.output) {
        process.stdout.write(text);
        return;
      }
      await writeFileAtomic(resolve(options.output), text);
      console.error(`checkpoint of entry #${result.head.id} (${result.head.entries} entries) written to ${options.output}`);
    });

  audit.command('check-checkpoint')
    .description('check a checkpoint\'s signature without the data dir; prints what it vouches for')
    .argument('<file>', 'the checkpoint file')
    .requiredOption('--key <key>', 'the checkpoint public key (ed25519:<base64>, from canota audit checkpoint --show-key)')
    .action(async (file: string, options: { key: string }) => {
      const [claim] = await readCheckpoints([file], publicKeyOption(options.key));
      console.log(`checkpoint signature valid: entry #${claim!.id}, ${claim!.entries} entries, seal ${claim!.hash}`);
    });

  addDataOptions(audit.command('list').description('print entries, newest first')
    .option('--limit <n>', 'how many', parseInteger(1, 100_000), 50)
    .addOption(new Option('--event <event>', 'only this event').choices(auditEvents))
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(['ok', 'failed', 'denied']))
    .option('--actor <name>', 'only entries by this user/vehicle')
    .option('--json', 'JSON lines'))
    .action(async (options: DataOptions & { limit: number; event?: string; outcome?: string; actor?: string; json?: boolean }) => {
      const entries = await withServerData(options, ({ audit: log }) => log.list({
        limit: options.limit, event: options.event, outcome: options.outcome, actor: options.actor,
      }));
      for (const e of entries) {
        if (options.json) {
          console.log(JSON.stringify(auditEntryJson(e)));
        } else {
          console.log([e.id, new Date(e.at).toISOString(), e.event, e.outcome, e.actor ?? '-', e.ip ?? '-', e.subject ?? '-', e.details].join('\t'));
        }
      }
    });

  readOptionsFromEnvironment(audit);
}

/** Verifies with the data dir's audit key, which must exist (a missing key is exit 1, never made up). */
async function verifyWithKey(options: DataOptions, claims: ChainPoint[]): Promise<ChainVerification> {
  try {
    return await withServerData(options, ({ audit: log }) => log.verify(claims), { createAuditKey: false });
  } catch (error) {
    if (error instanceof AuditKeyError) throw new AuditTamperedError(error.message, { cause: error });
    throw error;
  }
}

function publicKeyOption(text: string): KeyObject {
  try {
    return checkpointPublicKey(text);
  } catch (error) {
    if (error instanceof CheckpointError) throw new UsageError(`--key: ${error.message}`);
    throw error;
  }
}

/** The key checkpoints must be signed with: the one given, else the data dir's (which must exist). */
async function trustedCheckpointKey(options: DataOptions & { checkpointKey?: string }): Promise<KeyObject> {
  if (options.checkpointKey) return publicKeyOption(options.checkpointKey);
  try {
    return (await readSigningKey(checkpointKeyPath(resolve(options.dataDir)))).key.publicKey;
  } catch (error) {
    if (error instanceof SigningKeyError) throw new AuditTamperedError(`cannot check checkpoints: ${error.message}`);
    throw error;
  }
}

/** Each file's claim; a file that cannot be read, is not a checkpoint or is not signed by `trusted` fails (exit 1). */
async function readCheckpoints(files: string[], trusted: KeyObject): Promise<ChainPoint[]> {
  return Promise.all(files.map(async (file) => {
    try {
      return readCheckpoint(await readFile(file, 'utf8'), trusted);
    } catch (error) {
      throw new AuditTamperedError(`checkpoint ${file}: ${errorMessage(error)}`, { cause: error });
    }
  }));
}
