// People who sign in (kind: User, `mandate user …`): documents applied with their checks, passwords set from
// standard input and checked at sign-in, and disabling, which ends every token whose subject the user is and
// deletes their sessions; enabling them again revives none of it.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join, relative } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { findActiveToken, type IssuedTokenWrite, recordIssuedToken } from '../../src/lineage/tokens.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TOKEN_EXCHANGE } from '../../src/oauth/protocol.ts'
import { authenticatePassword } from '../../src/users/authenticate.ts'
import { dummyHash, hashPassword, parsePasswordHash, verifyPassword } from '../../src/users/password.ts'
import { findUser } from '../../src/users/store.ts'
import { mandateCli, mandateCliWithInput } from '../support/cli.ts'
import { rowCount, useDatabase } from '../support/database.ts'
import { placeholderSigningKey } from '../support/rows.ts'
import { TEST_APPLY } from '../support/server.ts'

const t = useDatabase()
const actor = `cli:${userInfo().username}`
const KID = 'users-test-key'

/** Writes the documents to a fresh folder; returns the file. */
function documents(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mandate-users-')), 'users.yaml')
  writeFileSync(file, yaml)
  return file
}
const user = (name: string, spec = '{}') =>
  `apiVersion: mandate/v1\nkind: User\nmetadata: { name: ${name} }\nspec: ${spec}\n`
const client = (name: string) =>
  `apiVersion: mandate/v1\nkind: Client\nmetadata: { name: ${name} }\nspec: { profile: app, secret: a-client-secret-of-some-length }\n`
const apply = (file: string) => applyDocuments(t.db, [file], TEST_APPLY)
const applied = async (yaml: string) => {
  const result = await apply(documents(yaml))
  expect(result.findings).toEqual([])
  return result.changes.map((change) => `${change.kind}/${change.name} ${change.action}`)
}
const setPassword = (name: string, input: string, args: string[] = []) =>
  mandateCliWithInput(t, ['user', 'set-password', name, ...args], input)
const written = async () => ({
  users: await rowCount(t.db, 'users'),
  clients: await rowCount(t.db, 'clients'),
  audit: await rowCount(t.db, 'audit_events'),
})
const lastAudit = () =>
  t.db
    .selectFrom('audit_events')
    .select(['type', 'actor', 'subject', 'data'])
    .orderBy('event_id', 'desc')
    .executeTakeFirstOrThrow()

beforeAll(() => placeholderSigningKey(t.db, KID))

describe('kind: User', () => {
  it('creates users with their fields and an audit event each; re-applying the same documents changes nothing', async () => {
    const hash = await hashPassword('alice has a long password')
    const yaml = `${user('alice', `{ email: alice@example.com, displayName: Alice Liddell, passwordHash: '${hash}' }`)}---\n${user('bob')}`
    expect(await applied(yaml)).toEqual(['User/alice created', 'User/bob created'])
    const alice = await findUser(t.db, 'alice')
    expect(alice).toEqual({
      username: 'alice',
      email: 'alice@example.com',
      display_name: 'Alice Liddell',
      password_hash: hash,
      source: 'document',
      content_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      disabled_by_document: false,
      disabled_by_cli: false,
      disabled_at: null,
      tokens_not_before: null,
      created_at: expect.any(Date),
      updated_at: expect.any(Date),
      roles: [],
    })
    expect(await findUser(t.db, 'bob')).toMatchObject({ email: null, display_name: null, password_hash: null })
    const events = await t.db
      .selectFrom('audit_events')
      .select(['actor', 'data'])
      .where('type', '=', 'document.created')
      .orderBy('event_id')
      .execute()
    expect(events.map((event) => event.actor)).toEqual(['test', 'test'])
    expect(events.map((event) => event.data)).toEqual([
      { kind: 'User', name: 'alice', version: null, digest: alice?.content_hash, previous_digest: null },
      { kind: 'User', name: 'bob', version: null, digest: expect.any(String), previous_digest: null },
    ])

    const before = await written()
    expect(await applied(yaml)).toEqual(['User/alice unchanged', 'User/bob unchanged'])
    expect(await written()).toEqual(before)
    expect(await findUser(t.db, 'alice')).toEqual(alice)
  })

  it('refuses a password where a hash belongs (without repeating it), and a hash below the floor, writing nothing', async () => {
    const before = await written()
    const plain = 'my-secret-password-123'
    const weak = '$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWhhc2hzb21laGFzaHNvbWVoYXNoc29tZWhhc2g'
    const file = documents(
      `${user('plain-pw', `\n  passwordHash: ${plain}`)}---\n${user('weak-pw', `\n  passwordHash: '${weak}'`)}---\n${user('innocent')}`,
    )
    const result = await apply(file)
    const shown = relative(process.cwd(), file)
    expect(result).toEqual({
      findings: [
        {
          file: shown,
          line: 5,
          column: 17,
          message: 'spec.passwordHash must be a hash from `mandate user hash-password`, never a password',
          path: 'spec.passwordHash',
        },
        {
          file: shown,
          line: 11,
          column: 17,
          message:
            "spec.passwordHash must be at least as strong as OWASP's argon2id m=19456,t=2 (or m=47104,t=1; m=12288,t=3; m=9216,t=4; m=7168,t=5); this has m=4096,t=3",
          path: 'spec.passwordHash',
        },
      ],
      changes: [],
    })
    expect(JSON.stringify(result)).not.toContain(plain)
    expect(await written()).toEqual(before)
    expect(await findUser(t.db, 'innocent')).toBeUndefined()
  })

  it('refuses a username that is a client_id and a client named like a user, either way, writing nothing', async () => {
    expect(await applied(`${client('shared-app')}---\n${user('carol-user')}`)).toEqual([
      'Client/shared-app created',
      'User/carol-user created',
    ])
    const before = await written()

    const named = documents(`${user('innocent')}---\n${user('shared-app')}`)
    expect((await apply(named)).findings).toEqual([
      {
        file: relative(process.cwd(), named),
        line: 8,
        column: 19,
        message: 'client shared-app already has this name',
        path: 'metadata.name',
      },
    ])
    const takes = documents(`${user('innocent')}---\n${client('carol-user')}`)
    expect((await apply(takes)).findings).toEqual([
      {
        file: relative(process.cwd(), takes),
        line: 8,
        column: 19,
        message: 'user carol-user already has this name',
        path: 'metadata.name',
      },
    ])
    const together = documents(`${client('twin-name')}---\n${user('twin-name')}`)
    expect((await apply(together)).findings).toEqual([
      {
        file: relative(process.cwd(), together),
        line: 8,
        column: 19,
        message: 'client twin-name already has this name',
        path: 'metadata.name',
      },
    ])
    expect(await written()).toEqual(before)
    expect(await findUser(t.db, 'innocent')).toBeUndefined()
  })

  it('refuses usernames that are not lowercase letters, digits, ".", "_", "@" or "-"', async () => {
    const file = documents(`${user('Dave')}---\n${user('-dave')}`)
    const message =
      'a username is 1-128 lowercase letters, digits, ".", "_", "@" or "-", starting with a letter or digit'
    expect((await apply(file)).findings.map((f) => [f.line, f.message, f.path])).toEqual([
      [3, message, 'metadata.name'],
      [8, message, 'metadata.name'],
    ])
  })
})

describe('passwords', () => {
  it('set-password reads the first line of standard input; a document without passwordHash keeps it', async () => {
    await applied(user('dora', '{ email: dora@example.com }'))
    const password = 'dora types this password'
    const result = await setPassword('dora', `${password}\nsecond line is not read\n`)
    expect(result).toEqual({ code: 0, stdout: 'user dora: password set\n', stderr: '' })
    expect(await lastAudit()).toEqual({
      type: 'user.password_set',
      actor,
      subject: 'dora',
      data: { username: 'dora' },
    })
    const stored = (await findUser(t.db, 'dora'))?.password_hash as string
    expect(parsePasswordHash(stored)).toBeUndefined()
    expect(stored).not.toContain(password)

    const check = await authenticatePassword(t.db, 'dora', password)
    expect(check).toEqual({ ok: true, user: await findUser(t.db, 'dora') })
    expect(await authenticatePassword(t.db, '  Dora ', password)).toMatchObject({ ok: true })
    expect(await authenticatePassword(t.db, 'dora', 'second line is not read')).toEqual({ ok: false })

    // A changed document without passwordHash is written, and the password stays.
    expect(await applied(user('dora', '{ email: dora@example.org }'))).toEqual(['User/dora updated'])
    expect(await findUser(t.db, 'dora')).toMatchObject({ email: 'dora@example.org', password_hash: stored })
    expect(await authenticatePassword(t.db, 'dora', password)).toMatchObject({ ok: true })

    // A windows line end is not part of the password.
    await setPassword('dora', 'dora new password here\r\n')
    expect(await authenticatePassword(t.db, 'dora', 'dora new password here')).toMatchObject({ ok: true })
  })

  it('set-password refuses short and long passwords, unknown users and a password as an argument, changing nothing', async () => {
    await applied(user('emil'))
    await setPassword('emil', 'emil first password\n')
    const stored = (await findUser(t.db, 'emil'))?.password_hash
    const audit = await rowCount(t.db, 'audit_events')
    expect(await setPassword('emil', 'too-short\n')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'a password needs at least 12 characters\n',
    })
    expect(await setPassword('emil', `${'x'.repeat(1025)}\n`)).toEqual({
      code: 1,
      stdout: '',
      stderr: 'a password may have at most 1024 characters\n',
    })
    expect(await setPassword('emil', '')).toMatchObject({
      code: 1,
      stderr: 'a password needs at least 12 characters\n',
    })
    expect(await setPassword('nobody-here', 'a perfectly long password\n')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'user nobody-here not found\n',
    })
    const asArgument = await setPassword('emil', '', ['emil-password-as-argument'])
    expect(asArgument.code).toBe(64)
    expect(asArgument.stderr).toContain('error: the password is read from standard input, never an argument')
    expect(asArgument.stderr).not.toContain('emil-password-as-argument')
    expect((await findUser(t.db, 'emil'))?.password_hash).toBe(stored)
    expect(await rowCount(t.db, 'audit_events')).toBe(audit)
    expect(await authenticatePassword(t.db, 'emil', 'emil first password')).toMatchObject({ ok: true })
  })

  it('hash-password prints a hash for a document, which then signs the user in', async () => {
    const result = await mandateCliWithInput(t, ['user', 'hash-password'], 'fiona picks a password\n')
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const hash = result.stdout.trim()
    expect(result.stdout).toBe(`${hash}\n`)
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    await applied(user('fiona', `{ passwordHash: '${hash}' }`))
    expect(await authenticatePassword(t.db, 'fiona', 'fiona picks a password')).toMatchObject({ ok: true })
    expect(await mandateCliWithInput(t, ['user', 'hash-password'], 'short\n')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'a password needs at least 12 characters\n',
    })
  })

  it('answers an unknown user, a wrong password, a user without one and a disabled user alike, each after one hash', async () => {
    const password = 'gus has a password too'
    await applied(`${user('gus')}---\n${user('gus-without-password')}`)
    await setPassword('gus', `${password}\n`)
    await applied(user('hanna', '{ disabled: true }'))
    await setPassword('hanna', `${password}\n`)
    const attempts = {
      unknown: () => authenticatePassword(t.db, 'nobody-at-all', password),
      invalidName: () => authenticatePassword(t.db, 'not a username!', password),
      wrong: () => authenticatePassword(t.db, 'gus', `${password}!`),
      withoutPassword: () => authenticatePassword(t.db, 'gus-without-password', password),
      disabled: () => authenticatePassword(t.db, 'hanna', password),
    }
    for (const attempt of Object.values(attempts)) expect(await attempt()).toEqual({ ok: false })
    expect(await authenticatePassword(t.db, 'gus', password)).toMatchObject({ ok: true })

    // Each refusal costs about one verification: none returns early (fastest of three runs, against half of one).
    const fastest = async (run: () => Promise<unknown>) => {
      const times: number[] = []
      for (let i = 0; i < 3; i++) {
        const started = performance.now()
        await run()
        times.push(performance.now() - started)
      }
      return Math.min(...times)
    }
    const dummy = await dummyHash()
    const oneVerification = await fastest(() => verifyPassword(password, dummy))
    for (const attempt of Object.values(attempts)) expect(await fastest(attempt)).toBeGreaterThan(oneVerification / 2)
  })
})

describe('disabling a user', () => {
  const token = (sub: string, extra: Partial<IssuedTokenWrite> = {}): IssuedTokenWrite => ({
    jti: randomUUID(),
    kid: KID,
    grant_type: 'authorization_code',
    client_id: 'some-app',
    sub,
    aud: ['https://tickets.test/'],
    scope: ['tickets:read'],
    issued_at: new Date(Date.now() - 10_000),
    expires_at: new Date(Date.now() + 600_000),
    parent_jti: null,
    ancestors: [],
    claims: {},
    ...extra,
  })
  /** A user's token and one exchanged from it (a child with ancestors); a same-named subject of another issuer. */
  async function tokensOf(sub: string) {
    const root = token(sub)
    const child = token(sub, {
      grant_type: TOKEN_EXCHANGE,
      client_id: 'agent-x',
      parent_jti: root.jti,
      ancestors: [root.jti],
    })
    const foreign = token(sub, { subject_issuer: 'https://idp.test', grant_type: TOKEN_EXCHANGE })
    for (const row of [root, child, foreign]) await recordIssuedToken(t.db, row)
    return { root: root.jti, child: child.jti, foreign: foreign.jti }
  }
  const active = async (jtis: Record<string, string>) =>
    Object.fromEntries(
      await Promise.all(
        Object.entries(jtis).map(async ([name, jti]) => [
          name,
          (await findActiveToken(t.db, jti, new Date())) !== undefined,
        ]),
      ),
    )
  /** oidc-provider artefacts of a signed-in person, as the adapter stores them. */
  async function artefactsOf(accountId: string) {
    const grantId = randomUUID()
    const rows = [
      { model: 'Session', id: randomUUID(), payload: { accountId, uid: randomUUID(), loginTs: 1 }, grant_id: null },
      { model: 'Grant', id: grantId, payload: { accountId, clientId: 'some-app' }, grant_id: null },
      { model: 'RefreshToken', id: randomUUID(), payload: { accountId, grantId }, grant_id: grantId },
      { model: 'AuthorizationCode', id: randomUUID(), payload: { accountId, grantId }, grant_id: grantId },
      { model: 'Interaction', id: randomUUID(), payload: { session: { accountId, uid: 'u' } }, grant_id: null },
    ]
    await t.db
      .insertInto('oidc_payloads')
      .values(rows.map((row) => ({ ...row, payload: JSON.stringify(row.payload) })))
      .execute()
    return rows.map((row) => `${row.model}/${row.id}`)
  }
  const storedArtefacts = async () =>
    (await t.db.selectFrom('oidc_payloads').select(['model', 'id']).execute()).map((row) => `${row.model}/${row.id}`)

  it('mandate user disable ends every token of the user and deletes their sessions; enable revives none of them', async () => {
    const password = 'ivan signs in with this'
    await applied(`${user('ivan')}---\n${user('jana')}`)
    await setPassword('ivan', `${password}\n`)
    const ivan = await tokensOf('ivan')
    const jana = await tokensOf('jana')
    const ivanArtefacts = await artefactsOf('ivan')
    const janaArtefacts = await artefactsOf('jana')
    const unrelated = { model: 'ReplayDetection', id: randomUUID(), payload: '{}' }
    await t.db.insertInto('oidc_payloads').values(unrelated).execute()
    expect(await active(ivan)).toEqual({ root: true, child: true, foreign: true })

    expect(await mandateCli(t, ['user', 'disable', 'ivan'])).toEqual({
      code: 0,
      stdout: 'user ivan disabled\n',
      stderr: '',
    })
    expect(await active(ivan)).toEqual({ root: false, child: false, foreign: true })
    expect(await active(jana)).toEqual({ root: true, child: true, foreign: true })
    const left = await storedArtefacts()
    expect(left).toEqual(expect.arrayContaining([...janaArtefacts, `ReplayDetection/${unrelated.id}`]))
    expect(left.filter((artefact) => ivanArtefacts.includes(artefact))).toEqual([])
    expect(await lastAudit()).toEqual({ type: 'user.disabled', actor, subject: 'ivan', data: { username: 'ivan' } })
    expect(await authenticatePassword(t.db, 'ivan', password)).toEqual({ ok: false })

    const audit = await rowCount(t.db, 'audit_events')
    expect(await mandateCli(t, ['user', 'disable', 'Ivan'])).toMatchObject({
      code: 0,
      stdout: 'user ivan was already disabled\n',
    })
    expect(await rowCount(t.db, 'audit_events')).toBe(audit)

    expect(await mandateCli(t, ['user', 'enable', 'ivan'])).toEqual({
      code: 0,
      stdout: 'user ivan enabled\n',
      stderr: '',
    })
    expect(await lastAudit()).toEqual({ type: 'user.enabled', actor, subject: 'ivan', data: { username: 'ivan' } })
    expect(await active(ivan)).toEqual({ root: false, child: false, foreign: true })
    expect(await findUser(t.db, 'ivan')).toMatchObject({ disabled_at: null, tokens_not_before: expect.any(Date) })
    const later = token('ivan', { issued_at: new Date(Date.now() + 1000) })
    await recordIssuedToken(t.db, later)
    expect(await active({ later: later.jti })).toEqual({ later: true })
    expect(await authenticatePassword(t.db, 'ivan', password)).toMatchObject({ ok: true })

    expect(await mandateCli(t, ['user', 'enable', 'ivan'])).toMatchObject({ stdout: 'user ivan was not disabled\n' })
    for (const verb of ['disable', 'enable'])
      expect(await mandateCli(t, ['user', verb, 'nobody-here'])).toEqual({
        code: 1,
        stdout: '',
        stderr: 'user nobody-here not found\n',
      })
  })

  it('spec.disabled disables and enables; re-applying an unchanged document keeps a CLI disable', async () => {
    expect(await applied(user('kira'))).toEqual(['User/kira created'])
    const kira = await tokensOf('kira')
    const artefacts = await artefactsOf('kira')
    expect(await applied(user('kira', '{ disabled: true }'))).toEqual(['User/kira updated'])
    expect(await active(kira)).toEqual({ root: false, child: false, foreign: true })
    expect((await storedArtefacts()).filter((artefact) => artefacts.includes(artefact))).toEqual([])
    expect(await findUser(t.db, 'kira')).toMatchObject({ disabled_at: expect.any(Date) })

    expect(await applied(user('kira', '{ disabled: false }'))).toEqual(['User/kira updated'])
    expect(await findUser(t.db, 'kira')).toMatchObject({ disabled_at: null })
    expect(await active(kira)).toEqual({ root: false, child: false, foreign: true })

    // `serve --apply` re-applies the same documents at every start: that must not undo `mandate user disable`.
    await mandateCli(t, ['user', 'disable', 'kira'])
    expect(await applied(user('kira', '{ disabled: false }'))).toEqual(['User/kira unchanged'])
    expect(await findUser(t.db, 'kira')).toMatchObject({ disabled_at: expect.any(Date) })
    // Nor may a changed document: each source of a disable is kept on its own, as for clients.
    expect(await applied(user('kira', '{ disabled: false, displayName: Kira }'))).toEqual(['User/kira updated'])
    expect(await findUser(t.db, 'kira')).toMatchObject({ disabled_at: expect.any(Date), disabled_by_cli: true })
    // And the CLI cannot undo the document's disable.
    expect(await applied(user('kira', '{ disabled: true, displayName: Kira }'))).toEqual(['User/kira updated'])
    expect((await mandateCli(t, ['user', 'enable', 'kira'])).stdout).toBe(
      'user kira stays disabled: their document says disabled: true\n',
    )
    expect(await findUser(t.db, 'kira')).toMatchObject({ disabled_at: expect.any(Date), disabled_by_document: true })
    expect(await applied(user('kira', '{ disabled: false, displayName: Kira }'))).toEqual(['User/kira updated'])
    expect(await findUser(t.db, 'kira')).toMatchObject({ disabled_at: null })
  })
})

describe('mandate user list', () => {
  it('lists users as JSON, never their password hashes', async () => {
    await applied(`${user('lena', '{ email: lena@example.com, displayName: Lena }')}---\n${user('mona')}`)
    await setPassword('lena', 'lena has a password\n')
    const result = await mandateCli(t, ['user', 'list'])
    expect(result.code).toBe(0)
    const { users } = JSON.parse(result.stdout) as { users: Array<Record<string, unknown>> }
    expect(users.find((entry) => entry.username === 'lena')).toEqual({
      username: 'lena',
      email: 'lena@example.com',
      display_name: 'Lena',
      source: 'document',
      disabled: false,
      password: true,
      roles: [],
    })
    expect(users.find((entry) => entry.username === 'mona')).toMatchObject({ email: null, password: false })
    expect(result.stdout).not.toContain('$argon2id$')
  })
})
