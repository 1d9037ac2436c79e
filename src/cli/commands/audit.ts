import { Option, type Command } from 'commander';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { auditEvents } from '../../server/audit/audit-log.ts';
import { addDataOptions, parseInteger, withServerData } from './server.ts';

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

  addDataOptions(audit.command('verify').description('check every entry\'s hash chain; exit 1 naming the first bad entry'))
    .action(async (options: DataOptions) => {
      const result = await withServerData(options, ({ audit: log }) => log.verify());
      if (result.problem) {
        throw new AuditTamperedError(`audit log tampered: first bad entry #${result.problem.id}: ${result.problem.reason} (${result.entries} entries before it are intact)`);
      }
      console.log(`audit log intact: ${result.entries} entries`);
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
        const at = new Date(e.at).toISOString();
        if (options.json) {
          console.log(JSON.stringify({ ...e, at, details: JSON.parse(e.details) as unknown }));
        } else {
          console.log([e.id, at, e.event, e.outcome, e.actor ?? '-', e.ip ?? '-', e.subject ?? '-', e.details].join('\t'));
        }
      }
    });

  readOptionsFromEnvironment(audit);
}
