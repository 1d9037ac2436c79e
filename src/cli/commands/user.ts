import { Option, type Command } from 'commander';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { UsageError } from '../exit-codes.ts';
import { roles, type Role } from '../../server/storage/index.ts';
import { AlreadyExistsError } from '../../server/storage/errors.ts';
import { PasswordPolicyError } from '../../server/auth/passwords.ts';
import { addUser, changePassword, removeUser, UserInputError } from '../../server/users.ts';
import { addDataOptions, readPasswordFromStdin, withServerData } from './server.ts';

interface DataOptions {
  dataDir: string;
  databaseUrl?: string;
}

/** Turns the bad inputs a user can make into usage errors (exit 2). */
async function asUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UserInputError || error instanceof PasswordPolicyError || error instanceof AlreadyExistsError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

async function passwordFrom(options: { passwordStdin?: boolean }): Promise<string | undefined> {
  return options.passwordStdin ? readPasswordFromStdin() : undefined;
}

function printPassword(username: string, password: string | undefined, json: boolean | undefined, extra: Record<string, unknown>): void {
  if (json) {
    console.log(JSON.stringify({ username, ...extra, ...(password ? { password } : {}) }));
  } else if (password) {
    console.log(`password for ${username} (shown only this once):`);
    console.log(password);
  }
}

export function registerUserCommand(program: Command): void {
  const user = program.command('user').description('manage the admin UI\'s users (admin: upload and check out; employee: look only)');

  addDataOptions(user.command('add').description('add a user; without --password-stdin a random password is generated and printed once')
    .argument('<name>', 'username (letters, digits, . _ @ -)')
    .addOption(new Option('--role <role>', 'admin or employee').choices(roles).makeOptionMandatory())
    .option('--password-stdin', 'read the password from standard input')
    .option('--generate-password', 'generate a random password and print it once (the default)')
    .option('--json', 'print {username, role, password?} as JSON'))
    .action(async (name: string, options: DataOptions & { role: Role; passwordStdin?: boolean; generatePassword?: boolean; json?: boolean }) => {
      if (options.passwordStdin && options.generatePassword) throw new UsageError('--password-stdin and --generate-password exclude each other');
      const password = await passwordFrom(options);
      const added = await asUsage(() => withServerData(options, ({ storage, audit }) =>
        addUser(storage, audit, { username: name, role: options.role, password, by: 'cli' })));
      if (!options.json) console.log(`added ${added.user.role} ${added.user.username}`);
      printPassword(added.user.username, added.generatedPassword, options.json, { role: added.user.role });
    });

  addDataOptions(user.command('list').description('list users')
    .option('--json', 'print a JSON array'))
    .action(async (options: DataOptions & { json?: boolean }) => {
      const users = await withServerData(options, ({ storage }) => storage.users.list());
      if (options.json) {
        console.log(JSON.stringify(users.map((u) => ({ username: u.username, role: u.role, created_at: new Date(u.created_at).toISOString() }))));
        return;
      }
      for (const u of users) console.log(`${u.username}\t${u.role}\t${new Date(u.created_at).toISOString()}`);
    });

  addDataOptions(user.command('remove').description('remove a user')
    .argument('<name>', 'username'))
    .action(async (name: string, options: DataOptions) => {
      const removed = await withServerData(options, ({ storage, audit }) => removeUser(storage, audit, { username: name, by: 'cli' }));
      if (!removed) throw new UsageError(`no user "${name}"`);
      console.log(`removed ${name}`);
    });

  addDataOptions(user.command('passwd').description('set a new password; without --password-stdin a random one is generated and printed once')
    .argument('<name>', 'username')
    .option('--password-stdin', 'read the new password from standard input')
    .option('--json', 'print {username, password?} as JSON'))
    .action(async (name: string, options: DataOptions & { passwordStdin?: boolean; json?: boolean }) => {
      const password = await passwordFrom(options);
      const result = await asUsage(() => withServerData(options, ({ storage, audit }) =>
        changePassword(storage, audit, { username: name, password, by: 'cli' })));
      if (!result.changed) throw new UsageError(`no user "${name}"`);
      if (!options.json) console.log(`password of ${name} changed`);
      printPassword(name, result.generatedPassword, options.json, {});
    });

  readOptionsFromEnvironment(user);
}
