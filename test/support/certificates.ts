import { execFileSync } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** PEM files made by openssl for one test, and the RFC 8705 §3.1 thumbprint of the certificate. */
export interface CertificateFiles {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: string
  readonly key: string
  /** base64url SHA-256 of the DER certificate: a token's `cnf.x5t#S256`. */
  readonly x5t: string
}

function files(certFile: string, keyFile: string): CertificateFiles {
  const cert = readFileSync(certFile, 'utf8')
  return { certFile, keyFile, cert, key: readFileSync(keyFile, 'utf8'), x5t: certificateThumbprint(cert) }
}

/** A self-signed certificate (a CA, or a server certificate for 127.0.0.1). */
export function makeSelfSigned(dir: string, name: string): CertificateFiles {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' })
  return files(certFile, keyFile)
}

/** A client certificate signed by `ca`. */
export function makeClientCertificate(dir: string, name: string, ca: CertificateFiles): CertificateFiles {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  const csr = join(dir, `${name}.csr`)
  execFileSync('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`,
  ], { stdio: 'ignore' })
  execFileSync('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '1',
  ], { stdio: 'ignore' })
  return files(certFile, keyFile)
}

export function certificateThumbprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url')
}
