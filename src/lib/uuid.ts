// A uuid in its text form: ids we mint (tasks, decisions) are checked before a query, so a value that
// cannot be one is never sent to Postgres (where comparing it with a uuid column would be an error).
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (value: string): boolean => uuid.test(value)
