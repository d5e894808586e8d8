import { LaunchfleetError } from '@launchfleet/shared';

/**
 * The caller presented no API token, or one the controller does not know. (Kept beside the
 * auth code: it is the one error only the API boundary raises; api/status.ts maps it.)
 */
export class UnauthenticatedError extends LaunchfleetError {
  override readonly name = 'Unauthenticated';
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
