import { RequestRejectedError, invalidFormat } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { readDataByIdentifier, type DataRecord } from '../../services/read-data-by-identifier.ts';
import type { ServiceHandler } from './handler.ts';

/**
 * 0x22 (ISO 14229-1 §11.2.4): DIDs not readable in this session are skipped; if none is left, 0x31;
 * a protected DID while locked, 0x33.
 */
export const handleReadDataByIdentifier: ServiceHandler = async (request, { state, context }) => {
  const { dids } = readDataByIdentifier.decodeRequest(request);
  const limit = state.options.maxDidsPerRead ?? 16;
  if (dids.length > limit) throw invalidFormat(`at most ${limit} DIDs per request, got ${dids.length}`);
  const readable = dids.flatMap((did) => {
    const definition = state.dids.get(did);
    if (!definition?.read) return [];
    if (definition.readSessions && !definition.readSessions.includes(state.session.current)) return [];
    return [{ did, definition }];
  });
  if (readable.length === 0) throw new RequestRejectedError(Nrc.RequestOutOfRange, `no readable DID among ${dids.map((d) => `0x${d.toString(16)}`).join(', ')}`);
  for (const { did, definition } of readable) {
    if (definition.readSecurity !== undefined && !state.security?.satisfies(definition.readSecurity)) {
      throw new RequestRejectedError(Nrc.SecurityAccessDenied, `DID 0x${did.toString(16)} needs security access`);
    }
  }
  const records: DataRecord[] = [];
  for (const { did, definition } of readable) records.push({ did, data: await definition.read!(context) });
  return readDataByIdentifier.encodeResponse({ records });
};
