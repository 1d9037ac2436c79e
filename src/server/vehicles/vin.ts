/** ISO 3779: 17 characters, digits and capitals except I, O and Q (as the vehicle config requires). */
export const vinPattern = /^[A-HJ-NPR-Z0-9]{17}$/;

/** A registration the server cannot make: a malformed VIN, a VIN it does not know. */
export class VehicleInputError extends Error {
  override name = 'VehicleInputError';
}

/** The VIN in its canonical (upper-case) form; throws VehicleInputError for anything that is not one. */
export function checkVin(text: string): string {
  const vin = text.trim().toUpperCase();
  if (!vinPattern.test(vin)) {
    throw new VehicleInputError(`bad VIN "${text.slice(0, 40)}": a VIN has 17 characters, digits and capitals except I, O and Q`);
  }
  return vin;
}
