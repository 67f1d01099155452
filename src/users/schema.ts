// `kind: User` — a person who signs in at Mandate. metadata.name is the username: the `sub` of their tokens.
import * as z from 'zod'
import { documentSchema, Metadata } from '../documents/envelope.ts'
import { parsePasswordHash } from './password.ts'

/** Lowercase, so a person's `sub` is one string however they type it at sign-in (authenticate.ts lowercases). */
export const Username = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._@-]{0,127}$/,
    'a username is 1-128 lowercase letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
  )

// Never the password: a hash made by `mandate user hash-password` (or another argon2id/scrypt encoder).
const PasswordHash = z
  .string()
  .max(1024)
  .superRefine((value, ctx) => {
    // The issue carries no input: the value may be a password pasted by mistake.
    const problem = parsePasswordHash(value)
    if (problem) ctx.addIssue({ code: 'custom', message: `spec.passwordHash ${problem}` })
  })

/** The roles a person may hold. */
export const USER_ROLES = ['mandate:admin'] as const
export const ADMIN_ROLE = 'mandate:admin'

export const UserDocument = documentSchema(
  'User',
  Metadata.extend({ name: Username }),
  z.strictObject({
    email: z.email().optional(),
    displayName: z.string().min(1).max(200).optional(),
    // Absent: the password set with `mandate user set-password` (if any) is kept.
    passwordHash: PasswordHash.optional(),
    // A disabled user cannot sign in, and every token whose subject they are is inactive at once.
    disabled: z.boolean().default(false),
    // mandate:admin opens the admin console (docs/admin-console.md). A role, never a scope: no token of a
    // person carries mandate:admin (authorization-code/rules.ts). Absent is none (and leaves the content hash
    // of documents written before roles existed as it was).
    roles: z.array(z.enum(USER_ROLES)).max(8).optional(),
  }),
)
export type UserDocument = z.output<typeof UserDocument>
