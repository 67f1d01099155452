// What a minted token depends on besides its parent chain (`ancestors`): the actor token it was
// minted with, that token's own chain and dependencies, and whatever its parent depended on that way;
// plus every task of the subject token, the actor token and the task it is issued for. Revoking any
// of these jtis, or ending any of these tasks, ends the minted token at read time (RFC 8693 §2.1: the
// actor token is an input as much as the subject token). Pure.
import type { IssuedToken } from '../lineage/tokens.ts'
import { type ActClaim, ourActorsOf } from '../policy/act-claim.ts'

/** What a token's activity depends on, from its lineage row: all the exchange needs of a token it was minted from. */
export type TokenLineage = Pick<IssuedToken, 'jti' | 'ancestors' | 'depends_on' | 'task_path' | 'client_id' | 'parties'>

/** At most this many tokens (ancestors and other dependencies) behind one token: bounded rows and reads. */
export const MAX_LINEAGE = 32

export interface TokenDependencies {
  /** jtis besides the ancestors whose revocation ends the token (issued_tokens.depends_on). */
  dependsOn: string[]
  /** task ids whose completion or expiry ends the token (issued_tokens.task_path). */
  taskPath: string[]
  /** How many tokens the new token's activity depends on: ancestors plus dependsOn. */
  size: number
}

interface Input {
  jti: string
  ancestors: readonly string[]
  depends_on: readonly string[]
  task_path: readonly string[]
}

export function dependenciesOf(
  subject: Input | undefined,
  actor: Input | undefined,
  task: { task_path: readonly string[] } | undefined,
): TokenDependencies {
  const ancestors = subject ? [...subject.ancestors, subject.jti] : []
  const dependsOn = [
    ...new Set([
      ...(subject?.depends_on ?? []),
      ...(actor ? [...actor.ancestors, ...actor.depends_on, actor.jti] : []),
    ]),
  ].filter((jti) => !ancestors.includes(jti))
  const inputs = [subject, actor].filter((input): input is Input => input !== undefined)
  return {
    dependsOn,
    taskPath: [...new Set([...inputs.flatMap((input) => input.task_path), ...(task?.task_path ?? [])])],
    size: ancestors.length + dependsOn.length,
  }
}

/**
 * Every client whose disabling ends the minted token: the client it is issued to, each actor of its
 * chain, and every party of the tokens it was minted from (their holders, recursively). Rows written
 * before parties existed count their holder.
 */
export function partiesOf(
  client: string,
  act: ActClaim | undefined,
  subject: Pick<IssuedToken, 'client_id' | 'parties'> | undefined,
  actor: Pick<IssuedToken, 'client_id' | 'parties'> | undefined,
): string[] {
  const of = (row: Pick<IssuedToken, 'client_id' | 'parties'> | undefined) =>
    row ? [row.client_id, ...row.parties] : []
  return [...new Set([client, ...ourActorsOf(act), ...of(subject), ...of(actor)])]
}
