import { testerPresent } from '../../services/tester-present.ts';
import type { ServiceHandler } from './handler.ts';

/** 0x3E: nothing to do; receiving it already restarted S3. */
export const handleTesterPresent: ServiceHandler = (request) => {
  testerPresent.decodeRequest(request);
  return testerPresent.encodeResponse({ subFunction: 0 });
};
