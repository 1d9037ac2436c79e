/** A deployment request the operator can fix: the API answers 400 with the message. */
export class DeploymentInputError extends Error {}

/** A request that conflicts with the deployment's state (resume a running one, advance past the last wave): 409. */
export class DeploymentConflictError extends Error {}

export class DeploymentNotFoundError extends Error {}
