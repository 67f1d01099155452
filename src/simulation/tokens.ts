// The subject and actor tokens of a simulated exchange, from their claims, as delegation/subject-token.ts and
// actor-token.ts make facts of verified tokens: our own token (its holder, its chain, the issuer at its root,
// read from its lineage row when the context can), or a trusted issuer's (its chain in that issuer's namespace,
// its scope per the Issuer document). Only what cannot be described is not simulated: signatures and activity.
import type { ActorFacts, SubjectFacts } from '../delegation/decide.ts'
import type { DenialReason } from '../delegation/decision.ts'
import { type ActClaim, identityOnly, inNamespace, nestAct } from '../policy/act-claim.ts'
import { SELF_ISSUER } from '../policy/schema.ts'
import { type SimulationRequest, subjectScope } from './request.ts'
import type { SimulationContext } from './simulate.ts'

export type SimulatedSubject = { facts: SubjectFacts; taskId?: string } | { refused: [DenialReason, string] }

/** Who acts: actor_chain's first entry, else the holder of a presented actor token, else the client. */
export const actingParty = (request: SimulationRequest, client: string): string =>
  request.actor_chain?.[0] ?? request.actor_token?.client_id ?? client

/** The actor token: described, or implied by an actor_chain whose current actor is not the client. */
export function actorFacts(request: SimulationRequest, client: string): ActorFacts | undefined {
  const acting = actingParty(request, client)
  const claims = request.actor_token
  if (!claims && acting === client) return undefined
  const holder = claims?.client_id ?? acting
  const act = claims?.act === undefined ? undefined : identityOnly(claims.act)
  return {
    holder,
    // An actor's own identity token unless its claims say otherwise.
    sub: claims?.sub ?? holder,
    origin: claims?.origin ?? SELF_ISSUER,
    ...(act ? { act } : {}),
    ...(claims?.exp !== undefined ? { expiresAt: claims.exp } : {}),
    ...(claims?.cnf ? { jkt: claims.cnf.jkt } : {}),
  }
}

/** The subject's earlier actors: its act claim, or actor_chain after the current actor (outermost first). */
function chainOf(request: SimulationRequest): ActClaim | undefined {
  const act = request.subject?.act
  if (act !== undefined) return identityOnly(act)
  return (request.actor_chain ?? [])
    .slice(1)
    .reduceRight<ActClaim | undefined>((inner, sub) => nestAct({ sub }, inner), undefined)
}

const mayActOf = (claims: NonNullable<SimulationRequest['subject']>): SubjectFacts['mayAct'] =>
  claims.may_act && {
    ...(claims.may_act.sub !== undefined ? { sub: claims.may_act.sub } : {}),
    ...(claims.may_act.client_id !== undefined ? { client_id: claims.may_act.client_id } : {}),
    ...(claims.may_act.iss !== undefined ? { iss: claims.may_act.iss } : {}),
  }

export async function subjectFacts(request: SimulationRequest, context: SimulationContext): Promise<SimulatedSubject> {
  const claims = request.subject as NonNullable<SimulationRequest['subject']>
  if (claims.exp !== undefined && claims.exp <= context.now) return { refused: ['subject_token.invalid', 'expired'] }
  // No expiry described: the subject token outlives everything else.
  const expiresAt = claims.exp ?? Number.POSITIVE_INFINITY
  const mayAct = mayActOf(claims)
  const jkt = claims.cnf?.jkt
  const ours = claims.iss === undefined || claims.iss === SELF_ISSUER || claims.iss === context.issuer
  if (ours) {
    const row = claims.jti && context.readToken ? await context.readToken(claims.jti) : undefined
    const act = inNamespace(chainOf(request), undefined, context.issuer)
    const holder = claims.client_id ?? row?.client_id
    const bound = jkt ?? row?.jkt ?? undefined
    return {
      facts: {
        issuer: SELF_ISSUER,
        origin: claims.origin ?? row?.subject_issuer ?? SELF_ISSUER,
        tokenType: request.subject_token_type,
        sub: claims.sub,
        scope: subjectScope(claims) ?? [],
        ...(act ? { act } : {}),
        ...(mayAct ? { mayAct } : {}),
        expiresAt,
        ...(holder ? { holder } : {}),
        ...(bound ? { jkt: bound } : {}),
        ...(row ? { lineage: row } : {}),
      },
      ...(claims.task_id ? { taskId: claims.task_id } : {}),
    }
  }
  // The issuer's `iss`, or (as decision records keep it) the Issuer document's name.
  const iss = claims.iss as string
  const issuer = context.catalog.issuerByIss(iss) ?? context.catalog.rows.issuers.find((row) => row.name === iss)
  if (!issuer) return { refused: ['subject_token.invalid', `${claims.iss} is not a trusted issuer`] }
  if (claims.cnf && Object.keys(claims.cnf).some((member) => member !== 'jkt'))
    return { refused: ['subject_token.key_not_proven', 'a cnf other than jkt'] }
  // Fail closed: no scope claim grants nothing, unless the Issuer document says otherwise.
  const scope = subjectScope(claims) ?? (issuer.tokens_without_scope === 'policyCeiling' ? undefined : [])
  const act = inNamespace(chainOf(request), issuer.issuer, context.issuer)
  return {
    facts: {
      issuer: issuer.name,
      tokenType: request.subject_token_type,
      sub: claims.sub,
      ...(scope ? { scope } : {}),
      ...(act ? { act } : {}),
      ...(mayAct ? { mayAct } : {}),
      expiresAt,
      ...(jkt ? { jkt } : {}),
    },
  }
}
