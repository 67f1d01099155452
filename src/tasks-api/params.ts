// Reading the tasks API's parameters: one value or many, and the refusals when they are not as asked.
import { HttpError } from '../http/http-error.ts'
import { TOKEN_INVALID } from '../oauth/descriptions.ts'

export const invalidRequest = (description: string) => new HttpError('invalid_request', description)
/** Any problem with the subject token or a parent task: one face, as at the token endpoint. */
export const invalidToken = () => invalidRequest(TOKEN_INVALID)

export const single = (value: unknown, name: string): string | undefined => {
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw invalidRequest(`'${name}' parameter must not be provided twice`)
  if (typeof value !== 'string') throw invalidRequest(`'${name}' parameter must be a string`)
  return value
}
export const many = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String)
