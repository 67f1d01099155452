// Runs once per integration run: finds a Postgres (TEST_DATABASE_URL, else testcontainers when a
// Docker engine is reachable, else embedded PGlite with a notice), migrates a template database
// once, and hands its URL to test files, which clone it (one database per file).
import { existsSync } from 'node:fs'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { migrateUp } from '../../src/db/migrations.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated template database to clone, or 'pglite' when no Postgres server is available. */
    templateDatabaseUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await findPostgres()
  if (!server && process.env.CI) {
    throw new Error(
      'CI must test against Postgres: set TEST_DATABASE_URL (see .ci/run); refusing to fall back to PGlite',
    )
  }
  if (!server) {
    process.stdout.write(
      '\nNOTICE: integration tests run on embedded PGlite (no TEST_DATABASE_URL and no Docker engine); multi-process tests are skipped.\n\n',
    )
    project.provide('templateDatabaseUrl', 'pglite')
    return async () => {}
  }
  const name = `mandate_template_${process.pid}`
  const templateUrl = withDatabase(server.url, name)
  await admin(server.url, async (db) => {
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(db)
    await sql`create database ${sql.id(name)}`.execute(db)
  })
  const db = connect(templateUrl)
  try {
    await migrateUp(db)
  } finally {
    await db.destroy() // a template must have no open connections when it is cloned
  }
  project.provide('templateDatabaseUrl', templateUrl)
  return async () => {
    await admin(server.url, (db) =>
      sql`drop database if exists ${sql.id(name)} with (force)`.execute(db).then(() => {}),
    )
    await server.stop()
  }
}

async function findPostgres(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  const url = process.env.TEST_DATABASE_URL
  if (url) return { url, stop: async () => {} }
  if (!existsSync('/var/run/docker.sock') && !process.env.DOCKER_HOST) return undefined
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql')
    const container = await new PostgreSqlContainer('postgres:17-alpine').start()
    return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) }
  } catch (error) {
    process.stdout.write(`NOTICE: Docker is not usable (${(error as Error).message})\n`)
    return undefined
  }
}

// biome-ignore lint/suspicious/noExplicitAny: admin connections run DDL only
export const connect = (url: string): Kysely<any> =>
  new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 4 }) }) })

export const withDatabase = (url: string, name: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${name}`
  return parsed.href
}

// biome-ignore lint/suspicious/noExplicitAny: admin connections run DDL only
export async function admin(url: string, run: (db: Kysely<any>) => Promise<void>): Promise<void> {
  const db = connect(withDatabase(url, 'postgres'))
  try {
    await run(db)
  } finally {
    await db.destroy()
  }
}
