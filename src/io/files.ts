import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** A file the user named cannot be read: a one-line message, never a stack trace. */
export class UnreadableInputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UnreadableInputError'
  }
}

/** Reads a text file the user named; `what` says which option or input it was, for the message. */
export async function readUserFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new UnreadableInputError(`cannot read ${what} ${path}: ${reason(error)}`)
  }
}

/** Every file under the given paths (files as given, folders walked, sorted), keeping only `accept`ed names. */
export async function listFiles(paths: string[], accept: (name: string) => boolean): Promise<string[]> {
  const files: string[] = []
  for (const path of paths) {
    let info
    try {
      info = await stat(path)
    } catch (error) {
      throw new UnreadableInputError(`cannot read ${path}: ${reason(error)}`)
    }
    if (info.isDirectory()) files.push(...(await walk(path, accept)))
    else files.push(path)
  }
  return files
}

async function walk(dir: string, accept: (name: string) => boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const files: string[] = []
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...(await walk(path, accept)))
    else if (entry.isFile() && accept(entry.name)) files.push(path)
  }
  return files
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file or directory'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return error instanceof Error ? error.message : String(error)
}
