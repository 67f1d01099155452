// One pino logger, JSON on stdout. Tokens, secrets and Authorization headers never reach a log line.
import pino, { type Logger } from 'pino'

export type Log = Logger

export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["dpop"]',
  '*.client_secret',
  '*.client_assertion',
  '*.secret',
  '*.password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.subject_token',
  '*.actor_token',
  '*.private_jwk_sealed',
  '*.masterKey',
]

export function createLog(level: string, destination?: pino.DestinationStream): Log {
  return pino(
    {
      level,
      base: { service: 'mandate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}
