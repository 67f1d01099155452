// Documents for the sign-in tests: people (User), a confidential web app, an agent app, a public native
// app, and the policy paths bound to them for authorization_code and token exchange. Written to a folder
// the test server applies with the usual fixtures.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword } from '../../src/users/password.ts'
import { TOKEN_EXCHANGE } from './oauth.ts'
import { fixtures } from './server.ts'

export const PASSWORDS = { carol: 'carol-correct-horse-42', dave: 'dave-battery-staple-42', erin: 'erin-password-1234' }
export const WEB_APP = { id: 'web-app', secret: 'web-app-secret-0123456789', redirect: 'https://app.test/callback' }
export const AGENT_APP = {
  id: 'helper-agent',
  secret: 'helper-agent-secret-0123456',
  redirect: 'https://agent.test/cb',
}
export const NATIVE_APP = { id: 'native-app', redirect: 'http://127.0.0.1/callback' }
export const TICKETS = 'https://tickets.test/'
export const WIKI = 'https://wiki.test/'

/** The fixtures plus the people documents: the folder list for useServer's apply option. */
export async function peopleDocuments(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-people-'))
  const users = await Promise.all(
    Object.entries(PASSWORDS).map(
      async ([name, password]) => `apiVersion: mandate/v1
kind: User
metadata: { name: ${name} }
spec:
  email: ${name}@example.test
  displayName: ${name[0]?.toUpperCase()}${name.slice(1)} Example
  passwordHash: "${await hashPassword(password)}"
`,
    ),
  )
  writeFileSync(join(dir, 'users.yaml'), users.join('---\n'))
  writeFileSync(
    join(dir, 'apps.yaml'),
    `apiVersion: mandate/v1
kind: Client
metadata: { name: ${WEB_APP.id}, description: Acme Web }
spec:
  profile: app
  secret: ${WEB_APP.secret}
  grantTypes: [authorization_code, refresh_token]
  redirectUris: [${WEB_APP.redirect}]
  postLogoutRedirectUris: [https://app.test/bye]
  scopes: [tickets:read, tickets:write, notes:read, wiki:read, wiki:edit]
---
apiVersion: mandate/v1
kind: Client
metadata: { name: ${AGENT_APP.id}, description: Helper Agent }
spec:
  profile: agent
  agent: true
  secret: ${AGENT_APP.secret}
  grantTypes: [authorization_code, refresh_token, ${TOKEN_EXCHANGE}]
  redirectUris: [${AGENT_APP.redirect}]
  scopes: [tickets:read, tickets:write]
---
apiVersion: mandate/v1
kind: Client
metadata: { name: ${NATIVE_APP.id} }
spec:
  profile: app
  grantTypes: [authorization_code, refresh_token]
  redirectUris: [${NATIVE_APP.redirect}]
  scopes: [tickets:read]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: people, description: what people's apps may hold }
spec:
  subjectTokens: { issuers: [self], holders: [${AGENT_APP.id}] }
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: people/web-app }
spec:
  bindings: [{ client: ${WEB_APP.id}, resource: ${TICKETS}, grantType: authorization_code }]
  scopes: [tickets:read]
  tokenLifetime: 2m
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: people/helper-agent }
spec:
  bindings:
    - { client: ${AGENT_APP.id}, resource: ${TICKETS}, grantType: authorization_code }
    - { client: ${AGENT_APP.id}, resource: ${TICKETS}, grantType: ${TOKEN_EXCHANGE} }
  scopes: [tickets:read, tickets:write]
  delegation: { actors: [${AGENT_APP.id}] }
  actions:
    - { name: tickets.read, class: read, scopes: [tickets:read] }
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: people/other-agent }
spec:
  bindings: [{ client: agent-two, resource: https://other.test/api, grantType: ${TOKEN_EXCHANGE} }]
  delegation: { actors: [agent-two] }
`,
  )
  writeFileSync(
    join(dir, 'resources.yaml'),
    `apiVersion: mandate/v1
kind: Resource
metadata: { name: wiki, description: The company wiki }
spec:
  uri: ${WIKI}
  scopes:
    - { name: wiki:read, description: Read your wiki pages }
    - wiki:edit
  introspectors: [rs-tickets]
  accessTokenLifetime: 5m
`,
  )
  return [fixtures, dir]
}
