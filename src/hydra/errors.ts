/**
 * Hydra answered with a non-2xx status. `error` and `errorDescription` are what Hydra put in its
 * body (contract §3: `{"error","error_description"}`), parsed defensively; `redirectTo` is set
 * when the body carried one (the 410 "already handled" answer).
 */
export class HydraError extends Error {
  override readonly name = 'HydraError';
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly error: string,
    readonly errorDescription: string,
    readonly redirectTo?: string,
  ) {
    super(`${operation}: Hydra answered ${status} ${error}${errorDescription ? `: ${errorDescription}` : ''}`);
  }
}

/** Hydra could not be reached, broke the connection, or did not answer within HYDRA_TIMEOUT_MS. */
export class HydraUnavailableError extends Error {
  override readonly name = 'HydraUnavailableError';
  constructor(
    readonly operation: string,
    readonly kind: 'timeout' | 'unreachable',
    options?: { cause?: unknown },
  ) {
    super(
      kind === 'timeout'
        ? `${operation}: Hydra did not answer in time`
        : `${operation}: Hydra's admin API could not be reached`,
      options,
    );
  }
}

/** The operation does not exist in the Hydra version the client targets. */
export class UnsupportedOperationError extends Error {
  override readonly name = 'UnsupportedOperationError';
  constructor(
    readonly operation: string,
    readonly apiVersion: string,
    readonly alternative: string,
  ) {
    super(`${operation} is not available on Hydra ${apiVersion}: ${alternative}`);
  }
}

/** Pulls `error`/`error_description`/`redirect_to` out of whatever Hydra sent, never throwing. */
export function parseErrorBody(text: string): { error?: string; description?: string; redirectTo?: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof body !== 'object' || body === null) return {};
  const record = body as Record<string, unknown>;
  const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  // Some older herodot shapes nest the error: {"error": {"message": "...", "reason": "..."}}.
  const nested = typeof record.error === 'object' && record.error !== null ? (record.error as Record<string, unknown>) : undefined;
  return {
    error: str(record.error) ?? str(nested?.status) ?? str(nested?.message),
    description: str(record.error_description) ?? str(nested?.reason) ?? str(nested?.message),
    redirectTo: str(record.redirect_to),
  };
}
