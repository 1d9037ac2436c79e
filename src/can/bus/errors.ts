/** The bus layer's errors; everything the bus, its drivers and its log formats throw on purpose is a CanBusError. */
export class CanBusError extends Error {
  override name = 'CanBusError';
}

/** A frame that cannot exist on a wire (id range, lengths, flag combinations). */
export class InvalidFrameError extends CanBusError {
  override name = 'InvalidFrameError';
}

/** A bit timing that no CAN controller could run. */
export class InvalidTimingError extends CanBusError {
  override name = 'InvalidTimingError';
}

/** Sending on, or waiting for, a bus that has been closed. */
export class BusClosedError extends CanBusError {
  override name = 'BusClosedError';
  constructor(channel: string) {
    super(`CAN bus ${channel} is closed`);
  }
}

/** Options that contradict the bus as it already is (e.g. another bit timing on a channel in use), or an unknown driver. */
export class BusConfigurationError extends CanBusError {
  override name = 'BusConfigurationError';
}
