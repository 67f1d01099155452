// RFC 8693 token exchange decided by policy paths: the happy paths through HTTP, with the issued
// claims, lineage rows and decision records checked against Postgres.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, accessToken, exchange, exchanged, introspect, JWT, jtiOf } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'

const aliceToken = () => accessToken(server.url, 'alice-app', { scope: 'tickets:read tickets:write' })
const row = (jti: string) =>
  t.db.selectFrom('issued_tokens').selectAll().where('jti', '=', jti).executeTakeFirstOrThrow()
const decision = (id: string | null) =>
  t.db
    .selectFrom('decisions')
    .selectAll()
    .where('decision_id', '=', id as string)
    .executeTakeFirstOrThrow()

describe('token exchange: delegation', () => {
  it('delegates at depth 1: sub from the subject, act from the client, narrowed scope, lineage and decision', async () => {
    const subject = await aliceToken()
    const response = await exchange(server.url, 'agent-one', {
      subject_token: subject,
      resource: tickets,
      scope: 'tickets:write',
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toEqual({
      access_token: expect.any(String),
      issued_token_type: ACCESS_TOKEN,
      token_type: 'Bearer',
      expires_in: 120,
      scope: 'tickets:write',
    })
    expect(response.headers.get('cache-control')).toContain('no-store')
    const token = body.access_token as string
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: server.issuer,
      audience: tickets,
      typ: 'at+jwt',
    })
    expect(protectedHeader.alg).toBe('ES256')
    expect(payload).toMatchObject({
      sub: 'alice-app',
      act: { sub: 'agent-one' },
      client_id: 'agent-one',
      aud: tickets,
      scope: 'tickets:write',
      policy_path: 'acme/support/agent-one',
      policy_version: 1,
    })
    expect(payload.exp).toBeLessThanOrEqual(decodeJwt(subject).exp as number)
    expect('task_id' in payload).toBe(false)

    const decisionId = response.headers.get('x-decision-id')
    expect(await row(payload.jti as string)).toMatchObject({
      parent_jti: jtiOf(subject),
      ancestors: [jtiOf(subject)],
      client_id: 'agent-one',
      sub: 'alice-app',
      aud: [tickets],
      scope: ['tickets:write'],
      act: { sub: 'agent-one' },
      policy_path: 'acme/support/agent-one',
      policy_version: 1,
      decision_id: decisionId,
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    })
    expect(await decision(decisionId)).toMatchObject({
      result: 'allow',
      reason: 'allowed',
      client_id: 'agent-one',
      subject: 'alice-app',
      subject_issuer: 'self',
      actor_chain: ['agent-one'],
      resources: [tickets],
      requested_scope: ['tickets:write'],
      granted_scope: ['tickets:write'],
      policy_path: 'acme/support/agent-one',
      policy_version: 1,
      policy_versions: { acme: 1, 'acme/support': 1, 'acme/support/agent-one': 1 },
      // Nothing requested was removed; the bound path's 2 minutes set the lifetime.
      constrained_by: [{ by: 'policy:acme/support/agent-one', lifetime: true }],
      issued_jti: payload.jti,
    })
  })

  it('nests act at depth 2 and 3 (outermost is the current actor) and introspects the chain', async () => {
    const subject = await aliceToken()
    const one = await exchanged(server.url, 'agent-one', { subject_token: subject, resource: tickets })
    const two = await exchanged(server.url, 'sub-agent', { subject_token: one, audience: 'tickets' })
    const three = await exchanged(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets })
    expect(decodeJwt(one).act).toEqual({ sub: 'agent-one' })
    expect(decodeJwt(two).act).toEqual({ sub: 'sub-agent', act: { sub: 'agent-one' } })
    expect(decodeJwt(three).act).toEqual({ sub: 'sub-sub-agent', act: { sub: 'sub-agent', act: { sub: 'agent-one' } } })
    expect(decodeJwt(three).scope).toBe('tickets:read')
    expect((await row(jtiOf(three))).ancestors).toEqual([jtiOf(subject), jtiOf(one), jtiOf(two)])

    expect(await introspect(server.url, three)).toEqual({
      active: true,
      sub: 'alice-app',
      act: { sub: 'sub-sub-agent', act: { sub: 'sub-agent', act: { sub: 'agent-one' } } },
      client_id: 'sub-sub-agent',
      policy_path: 'acme/support/sub-sub-agent',
      policy_version: 1,
      iss: server.issuer,
      jti: jtiOf(three),
      aud: tickets,
      scope: 'tickets:read',
      token_type: 'Bearer',
      iat: expect.any(Number),
      exp: expect.any(Number),
    })
  })

  it('answers issued_token_type jwt when the client asks for a JWT', async () => {
    const response = await exchange(server.url, 'agent-one', {
      subject_token: await aliceToken(),
      subject_token_type: JWT,
      requested_token_type: JWT,
      resource: tickets,
    })
    expect(await response.json()).toMatchObject({ issued_token_type: JWT, token_type: 'Bearer' })
  })

  it('grants everything the bounds allow when no scope is requested', async () => {
    const response = await exchange(server.url, 'agent-one', { subject_token: await aliceToken(), resource: tickets })
    expect(await response.json()).toMatchObject({ scope: 'tickets:read tickets:write' })
  })

  it('records what narrowed a grant: the policy level that removed a scope, the input that set the lifetime', async () => {
    const one = await exchanged(server.url, 'agent-one', { subject_token: await aliceToken(), resource: tickets })
    const response = await exchange(server.url, 'sub-agent', { subject_token: one, resource: tickets })
    expect(await response.json()).toMatchObject({ scope: 'tickets:read' })
    expect(await decision(response.headers.get('x-decision-id'))).toMatchObject({
      result: 'allow',
      granted_scope: ['tickets:read'],
      constrained_by: [
        { by: 'policy:acme/support/sub-agent', scope: ['tickets:write'] },
        // The agent's token ends within 2 minutes, before the 5 minutes of the resource.
        { by: 'subject_token', lifetime: true },
      ],
    })
  })
})

describe('token exchange: other subjects and targets', () => {
  it('impersonates where the path allows it: no act, the client is client_id', async () => {
    const token = await exchanged(server.url, 'impersonator', { subject_token: await aliceToken(), resource: tickets })
    const payload = decodeJwt(token)
    expect(payload).toMatchObject({ sub: 'alice-app', client_id: 'impersonator', policy_path: 'acme/impersonation' })
    expect('act' in payload).toBe(false)
  })

  it('exchanges a token of a trusted foreign issuer, recording its issuer and jti', async () => {
    const person = await personToken({ sub: 'alice', scope: 'tickets:read' })
    const response = await exchange(server.url, 'agent-one', { subject_token: person, resource: tickets })
    const body = (await response.json()) as { access_token: string }
    expect(response.status).toBe(200)
    expect(decodeJwt(body.access_token)).toMatchObject({
      sub: 'alice',
      act: { sub: 'agent-one' },
      scope: 'tickets:read',
    })
    expect(await row(jtiOf(body.access_token))).toMatchObject({
      parent_jti: null,
      ancestors: [],
      subject_issuer: 'test-idp',
      subject_ref: decodeJwt(person).jti,
    })
    expect(await decision(response.headers.get('x-decision-id'))).toMatchObject({
      subject: 'alice',
      subject_issuer: 'test-idp',
    })
  })

  it('issues one token usable at several resources bound to one policy path, with only the scopes each defines', async () => {
    // Give notes a scope tickets defines too: only such a scope may ride on a token for both.
    const dir = mkdtempSync(join(tmpdir(), 'mandate-shared-scope-'))
    writeFileSync(
      join(dir, 'notes.yaml'),
      `apiVersion: mandate/v1
kind: Resource
metadata: { name: notes }
spec: { uri: https://notes.test/, scopes: [notes:read, tickets:read], introspectors: [rs-tickets], accessTokenLifetime: 5m }
`,
    )
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
    const person = await personToken({ scope: 'tickets:read notes:read' })
    const both = [tickets, 'https://notes.test/']
    // notes:read is not a tickets scope: a token also meant for tickets cannot carry it.
    const refused = await exchange(server.url, 'agent-one', {
      subject_token: person,
      resource: both,
      scope: 'tickets:read notes:read',
    })
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
    })
    const response = await exchange(server.url, 'agent-one', { subject_token: person, resource: both })
    const body = (await response.json()) as { access_token: string }
    expect(response.status).toBe(200)
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: both, scope: 'tickets:read' })
    expect((await row(jtiOf(body.access_token))).aud).toEqual(both)
    expect(await introspect(server.url, body.access_token)).toMatchObject({
      active: true,
      aud: both,
      scope: 'tickets:read',
    })
  })

  it('lets a trusted intermediary act as the agent whose actor_token it presents', async () => {
    const actor = await accessToken(server.url, 'agent-two', { scope: 'tickets:read' })
    const token = await exchanged(server.url, 'gateway', {
      subject_token: await aliceToken(),
      actor_token: actor,
      actor_token_type: ACCESS_TOKEN,
      resource: tickets,
    })
    expect(decodeJwt(token).act).toEqual({ sub: 'agent-two' })
  })

  it('accepts an actor_token of the authenticated client itself', async () => {
    const own = await accessToken(server.url, 'agent-one', { scope: 'tickets:read' })
    const token = await exchanged(server.url, 'agent-one', {
      subject_token: await aliceToken(),
      actor_token: own,
      actor_token_type: ACCESS_TOKEN,
      resource: tickets,
    })
    expect(decodeJwt(token).act).toEqual({ sub: 'agent-one' })
  })

  it('lists the grant in discovery', async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[]
    }
    expect(metadata.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:token-exchange')
  })
})
