// What a minted token depends on: everything its subject token and its actor token depend on, plus
// those tokens themselves and the task it is issued for. Revoking any of these jtis, or ending any
// of these tasks, ends the minted token at read time (RFC 8693 §2.1: the actor token is an input
// as much as the subject token). Pure.

export interface TokenDependencies {
  /** jtis whose revocation ends the token (issued_tokens.depends_on). */
  dependsOn: string[]
  /** task ids whose completion or expiry ends the token (issued_tokens.task_path). */
  taskPath: string[]
}

interface Input {
  jti: string
  depends_on: readonly string[]
  task_path: readonly string[]
}

export function dependenciesOf(
  subject: Input | undefined,
  actor: Input | undefined,
  task: { task_path: readonly string[] } | undefined,
): TokenDependencies {
  const tokens = [subject, actor].filter((input): input is Input => input !== undefined)
  return {
    dependsOn: [...new Set(tokens.flatMap((input) => [...input.depends_on, input.jti]))],
    taskPath: [...new Set([...tokens.flatMap((input) => input.task_path), ...(task?.task_path ?? [])])],
  }
}
