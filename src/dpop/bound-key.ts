// Which DPoP key a token is bound to (RFC 9449 §6.1: cnf.jkt). Pure.

/** The thumbprint a token's claims bind it to, if any. */
export const jktOf = (payload: Record<string, unknown>): string | undefined => {
  const cnf = payload.cnf as { jkt?: unknown } | undefined
  return typeof cnf?.jkt === 'string' ? cnf.jkt : undefined
}

/** The key one of our tokens is bound to: its lineage row's, or (written before lineage kept it) its JWT's. */
export const boundKey = (row: { jkt: string | null }, payload: Record<string, unknown>): string | undefined =>
  row.jkt ?? jktOf(payload)
