import { join } from 'node:path';

/** The directory of one ECU's flash inside a vehicle state dir: bank-A.img, bank-B.img, boot-record.json. */
export const ecuStateDir = (stateDir: string, name: string): string => join(stateDir, 'ecus', name);
