// RFC 8693 token exchange at Mandate's /token through oauth4webapi: a subject token for a token for one
// resource, for a task. oauth4webapi signs the DPoP proof and caches the nonces Mandate sends (RFC 9449 §8).
import * as oauth from 'oauth4webapi'
import type { Connection } from './connect.ts'
import { succeeded } from './error.ts'

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

export interface ExchangeRequest {
  /** RFC 8707 resource indicator(s): one token for them all (they must share a policy path). */
  resource: string | readonly string[]
  /** Without it, everything the policy, the person's token and the task allow. */
  scope?: string | readonly string[]
  /** RFC 8693 §2.1: the token of an actor this agent acts for (an intermediary the policy names). */
  actorToken?: string
  actorTokenType?: string
}

export interface ExchangedToken {
  accessToken: string
  /** Computed from expires_in on this machine's clock. */
  expiresAt: Date
  scope: string
  /** DPoP when bound to the agent's key (send it with a DPoP proof), else Bearer. */
  tokenType: 'Bearer' | 'DPoP'
  issuedTokenType: string
}

export interface Subject {
  token: string
  type: string
  taskId: string
}

export async function exchangeToken(
  connection: Connection,
  subject: Subject,
  request: ExchangeRequest,
  options: { bind: boolean },
): Promise<ExchangedToken> {
  const { as, client, auth } = connection
  const parameters = [
    ['subject_token', subject.token],
    ['subject_token_type', subject.type],
    ['task_id', subject.taskId],
    ...oneOrMany(request.resource).map((resource) => ['resource', resource]),
    ...(request.scope === undefined ? [] : [['scope', list(request.scope).join(' ')]]),
    ...(request.actorToken === undefined
      ? []
      : [
          ['actor_token', request.actorToken],
          ['actor_token_type', request.actorTokenType ?? ACCESS_TOKEN],
        ]),
  ]
  const dpop = options.bind ? connection.dpop : undefined
  const send = () =>
    oauth.genericTokenEndpointRequest(as, client, auth, TOKEN_EXCHANGE, parameters, {
      ...connection.http,
      ...(dpop ? { DPoP: dpop } : {}),
    })
  const response = await succeeded(send, dpop !== undefined)
  const body = await oauth.processGenericTokenEndpointResponse(as, client, response)
  // RFC 8693 §2.2.1: issued_token_type is required; Mandate always states expires_in.
  if (typeof body.issued_token_type !== 'string' || body.expires_in === undefined)
    throw new Error('Mandate answered a token exchange without issued_token_type or expires_in', { cause: body })
  return {
    accessToken: body.access_token,
    expiresAt: new Date(Date.now() + body.expires_in * 1000),
    scope: body.scope ?? '',
    tokenType: body.token_type === 'dpop' ? 'DPoP' : 'Bearer',
    issuedTokenType: body.issued_token_type,
  }
}

/** A space-separated list (RFC 6749 §3.3 scope) or its items. */
export const list = (value: string | readonly string[]): string[] =>
  typeof value === 'string' ? value.split(' ').filter(Boolean) : [...value]

export const oneOrMany = (value: string | readonly string[]): string[] =>
  typeof value === 'string' ? [value] : [...value]
