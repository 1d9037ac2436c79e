/**
 * VCDIFF's default instruction code table (RFC 3284 §5.6): what each instruction byte means, as one or two
 * instructions (type, size, address mode). A constant — ROM on a microcontroller — built once.
 */
export const VcdiffInstruction = { Noop: 0, Add: 1, Run: 2, Copy: 3 } as const;
export type VcdiffInstruction = (typeof VcdiffInstruction)[keyof typeof VcdiffInstruction];

export interface VcdiffCode {
  type1: VcdiffInstruction;
  size1: number;
  mode1: number;
  type2: VcdiffInstruction;
  size2: number;
  mode2: number;
}

/** The address cache sizes of the default code table (RFC 3284 §5.1): s_near and s_same. */
export const NEAR_CACHE_SIZE = 4;
export const SAME_CACHE_SIZE = 3;
/** Address modes 0 (VCD_SELF), 1 (VCD_HERE), then the near modes, then the same modes. */
export const ADDRESS_MODES = 2 + NEAR_CACHE_SIZE + SAME_CACHE_SIZE;

function buildDefaultCodeTable(): readonly VcdiffCode[] {
  const table: VcdiffCode[] = [];
  const single = (type: VcdiffInstruction, size: number, mode = 0): void => {
    table.push({ type1: type, size1: size, mode1: mode, type2: VcdiffInstruction.Noop, size2: 0, mode2: 0 });
  };
  const pair = (type1: VcdiffInstruction, size1: number, mode1: number, type2: VcdiffInstruction, size2: number, mode2: number): void => {
    table.push({ type1, size1, mode1, type2, size2, mode2 });
  };
  single(VcdiffInstruction.Run, 0);
  for (let size = 0; size <= 17; size++) single(VcdiffInstruction.Add, size);
  for (let mode = 0; mode < ADDRESS_MODES; mode++) {
    single(VcdiffInstruction.Copy, 0, mode);
    for (let size = 4; size <= 18; size++) single(VcdiffInstruction.Copy, size, mode);
  }
  for (let mode = 0; mode < 6; mode++) {
    for (let add = 1; add <= 4; add++) {
      for (let copy = 4; copy <= 6; copy++) pair(VcdiffInstruction.Add, add, 0, VcdiffInstruction.Copy, copy, mode);
    }
  }
  for (let mode = 6; mode < ADDRESS_MODES; mode++) {
    for (let add = 1; add <= 4; add++) pair(VcdiffInstruction.Add, add, 0, VcdiffInstruction.Copy, 4, mode);
  }
  for (let mode = 0; mode < ADDRESS_MODES; mode++) pair(VcdiffInstruction.Copy, 4, mode, VcdiffInstruction.Add, 1, 0);
  if (table.length !== 256) throw new Error(`the default VCDIFF code table has ${table.length} entries, not 256`);
  return table;
}

export const DEFAULT_CODE_TABLE: readonly VcdiffCode[] = buildDefaultCodeTable();
