// The README's agent story, runnable: `npm run demo:agent` against `npm start` (or MANDATE_ISSUER). Every
// line of the README's TypeScript is a line of this file (test/integration/sdk-readme.test.ts checks it).
import { execFileSync } from 'node:child_process'
import { mandateAgent } from 'mandate/agent'

const issuer = process.env.MANDATE_ISSUER ?? 'http://localhost:3000'
const personToken = new URL('./demo-person-token.ts', import.meta.url).pathname
const alice = execFileSync(process.execPath, [personToken, 'alice']).toString().trim()

const tickets = 'https://tickets.example/'
const agent = await mandateAgent({ issuer, clientId: 'support-agent', clientSecret: 'support-agent-demo-secret' })
const task = await agent.startTask({ subjectToken: alice, purpose: "Answer Alice's ticket 42", resources: [tickets] })
const token = await task.exchange({ resource: tickets, scope: 'tickets:read tickets:write' })
// Hand reading to the triage sub-agent: it exchanges as itself, the act chain nests, the task is carried.
const handOff = await task.handOff({ resource: tickets, scope: 'tickets:read' })
const triage = await mandateAgent({ issuer, clientId: 'triage-subagent', clientSecret: 'triage-subagent-demo-secret' })
const read = await triage.joinTask(handOff).exchange({ resource: tickets })
await task.complete('succeeded') // from this answer on, every token of the task is inactive, everywhere

console.log(JSON.stringify({ task: task.id, token: token.accessToken, read: read.accessToken }))
