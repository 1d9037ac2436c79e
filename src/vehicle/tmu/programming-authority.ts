import type { GrantAnswer, GrantRequest } from '../cgw/approval-protocol.ts';

/**
 * Where the TMU gets an ECU's security-access key and programming grant: the CGW, for an update the driver
 * approved (`31 01 F003`; src/vehicle/keys/programming-grant.ts). The TMU holds no key that makes either,
 * so it only relays them; DriverApproval is the real one, tests give fakes or a CGW of their own.
 */
export interface ProgrammingAuthority {
  authorize(request: GrantRequest): Promise<GrantAnswer>;
}
