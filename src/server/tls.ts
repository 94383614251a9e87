import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'

export interface TlsMaterial {
  cert: string
  key: string
}

export interface TlsFiles {
  certFile: string
  keyFile: string
}

/** Reads a certificate and key pair, failing with a message that names the file. */
export async function readTlsFiles(files: TlsFiles): Promise<TlsMaterial> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path, 'utf8')
    } catch (error) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(error as Error).message}`)
    }
  }
  const material = { cert: await read(files.certFile, 'certificate'), key: await read(files.keyFile, 'key') }
  try {
    createSecureContext(material)
  } catch (error) {
    throw new Error(`the TLS certificate ${files.certFile} and key ${files.keyFile} do not make a usable pair: ${(error as Error).message}`)
  }
  return material
}

/** A self-signed development certificate for localhost, made at start when none is configured. */
export async function developmentCertificate(): Promise<TlsMaterial> {
  const { generate } = await import('selfsigned') // heavy (x509 libraries): only loaded when needed
  const notAfterDate = new Date(Date.now() + 365 * 24 * 3600 * 1000)
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  })
  return { cert: pems.cert, key: pems.private }
}

/**
 * Polls the certificate files and hands a changed, valid pair to `onChange`. Polling (rather than
 * fs.watch) sees Kubernetes' atomic Secret updates, which swap a symlink. A pair that does not load
 * (the key written before the certificate, say) is skipped until the next poll.
 */
export function watchTlsFiles(
  files: TlsFiles,
  current: TlsMaterial,
  intervalMs: number,
  onChange: (material: TlsMaterial) => void,
  onError: (error: Error) => void,
): () => void {
  let last = current
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    readTlsFiles(files)
      .then((material) => {
        if (material.cert !== last.cert || material.key !== last.key) {
          last = material
          onChange(material)
        }
      })
      .catch(onError)
      .finally(() => (busy = false))
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
