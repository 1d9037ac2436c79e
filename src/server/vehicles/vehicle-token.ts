import { bearerTokenKind } from '../auth/bearer-token.ts';

/** A vehicle's bearer token (auth/bearer-token.ts): `cvt_` and 43 base64url characters. */
const vehicleTokens = bearerTokenKind('cvt_');

export const tokenPrefix = vehicleTokens.prefix;
export const newVehicleToken = (): string => vehicleTokens.newToken();
export const hashVehicleToken = (token: string): string | undefined => vehicleTokens.hash(token);
export { sameTokenHash } from '../auth/bearer-token.ts';
